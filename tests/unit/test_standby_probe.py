"""A replica waiting for the Lease answers its liveness probe (kopf serves it only once it leads)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from celigo_operator.leader import StandbyProbe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_standby_answers_healthz_and_frees_the_port() -> None:
    port = free_port()
    probe = StandbyProbe(f"http://127.0.0.1:{port}/healthz").start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200
            assert b"standby" in resp.read()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=10)
    finally:
        probe.stop()
    with socket.socket() as s:  # kopf can bind it now
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
