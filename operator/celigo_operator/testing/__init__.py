"""Test doubles shipped with the package: the Kubernetes API emulator and fake Celigo/ConductorOne servers."""
