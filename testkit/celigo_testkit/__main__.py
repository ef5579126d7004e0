from celigo_testkit.cli import main

raise SystemExit(main())
