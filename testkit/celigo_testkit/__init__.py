"""celigo_testkit: the Kubernetes API emulator, fake Celigo and ConductorOne servers, the demo wiring and
credential generators. Dev and demo tooling only: the operator never imports it and its wheel and image
never contain it."""
