"""Container statuses as a kubelet reports them: shared by the emulator's simulated kubelet (workload.py) and
the real control plane's simulated node (podsim.py), so both show pods the same way."""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["running", "waiting"]


def waiting(c: dict, reason: str, message: str, restarts: int) -> dict:
    """A container that is not running (ContainerCreating, CrashLoopBackOff, ImagePullBackOff, ...)."""
    state: dict[str, Any] = {"reason": reason}
    if message:
        state["message"] = message
    return {
        "name": c.get("name", ""),
        "state": {"waiting": state},
        "lastState": {},
        "ready": False,
        "restartCount": restarts,
        "image": c.get("image", ""),
        "imageID": "",
        "started": False,
    }


def running(c: dict, prev: dict, ts: str) -> dict:
    """A container that started at `ts`; `prev` (its previous status, or {}) keeps restarts and lastState."""
    image = c.get("image", "")
    digest = hashlib.sha256(image.encode()).hexdigest()
    return {
        "name": c.get("name", ""),
        "state": {"running": {"startedAt": ts}},
        "lastState": prev.get("lastState") or {},
        "ready": True,
        "restartCount": int(prev.get("restartCount") or 0),
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:{digest}",
        "containerID": f"containerd://{hashlib.sha256((image + ts).encode()).hexdigest()}",
        "started": True,
    }
