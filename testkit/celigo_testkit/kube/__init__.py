"""An emulated Kubernetes API server for tests and the demo (see /work/shared/docs/kube-emulator.md)."""

from .emulator import EmulatorSettings, Fault, FaultInjector, KubeEmulator, RequestRecord

__all__ = ["EmulatorSettings", "Fault", "FaultInjector", "KubeEmulator", "RequestRecord"]
