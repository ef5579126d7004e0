"""The e2e suite's backend choice: the real control plane (etcd + kube-apiserver + kube-controller-manager
with the simulated node) or the emulator. `CELIGO_TEST_KUBE=real|emulator`; the real one unless told."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from celigo_testkit import controlplane
from celigo_testkit.podsim import PodSimulator

DEFAULT_BACKEND = "real"
CRD = Path(__file__).resolve().parents[2] / "crds" / "celigoconnectors.yaml"
_sim: PodSimulator | None = None
_lock = threading.Lock()


def backend() -> str:
    value = os.environ.get("CELIGO_TEST_KUBE", DEFAULT_BACKEND).strip().lower() or DEFAULT_BACKEND
    if value not in ("real", "emulator"):
        raise ValueError(f"CELIGO_TEST_KUBE must be real or emulator, not {value!r}")
    return value


def shared_control_plane() -> controlplane.ControlPlane:
    """The session's control plane, started with the project's CRD already there when this starts it, so the
    first world need not wait for the garbage collector to notice the CRD (support/world.py)."""
    return controlplane.shared(crds=[CRD])


def shared_simulator(cp: controlplane.ControlPlane | None = None) -> PodSimulator:
    """One simulated node per test session, on the shared control plane."""
    global _sim
    cp = cp or shared_control_plane()
    with _lock:
        if _sim is None or _sim.cp is not cp:
            _sim = PodSimulator(cp).start()
        return _sim


def stop_shared() -> None:
    """The control plane, then the simulated node, whose watch ends with it (a session's end, in each xdist
    worker)."""
    global _sim
    with _lock:
        sim, _sim = _sim, None
    controlplane.stop_shared()
    if sim is not None:
        sim.stop()


class RealCluster:
    """What e2e tests reach through `w.emu` on the real control plane: the same names as the emulator's
    (`request_log` from the audit log, `workload` = the simulated kubelet, `settings.rollout_delay`)."""

    def __init__(self) -> None:
        self.cp = shared_control_plane()
        self.workload = shared_simulator(self.cp)
        self.settings = self.workload.settings
        # the emulator's log starts empty with each world; the audit log is the session's
        self.log_start = len(self.cp.request_log)

    @property
    def request_log(self) -> controlplane.ClientRequestLog:
        # the audit log backend is blocking: a request is in the file before its answer is sent
        assert self.cp.audit is not None
        return controlplane.ClientRequestLog(self.cp.audit, self.log_start)
