from celigo_operator.cli import main

raise SystemExit(main())
