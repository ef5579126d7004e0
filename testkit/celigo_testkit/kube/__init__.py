"""An emulated Kubernetes API server for tests and the demo (README, "The Kubernetes API emulator")."""

from .emulator import KubeEmulator
from .types import EmulatorSettings, Fault, FaultInjector, RequestRecord

__all__ = ["EmulatorSettings", "Fault", "FaultInjector", "KubeEmulator", "RequestRecord"]
