"""`celigo-operator emulator`: run the emulated API server in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .emulator import EmulatorSettings, KubeEmulator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="celigo-operator emulator", description="Serve an emulated Kubernetes API on loopback."
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig once serving")
    p.add_argument("--namespace", default="default", help="default namespace of the kubeconfig context")
    p.add_argument("--token", default=None, help="bearer token to require (random by default)")
    p.add_argument(
        "--rollout-delay",
        type=float,
        default=EmulatorSettings.rollout_delay,
        help="seconds before a pod becomes Ready",
    )
    return p


def run_emulator_cli(argv: Sequence[str] | None = None) -> int:
    """Start the emulator, write the kubeconfig, print the KUBECONFIG line, serve until a signal."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    settings = EmulatorSettings(rollout_delay=args.rollout_delay)
    try:
        with KubeEmulator(host=args.host, port=args.port, token=args.token, settings=settings) as emu:
            path = emu.write_kubeconfig(args.kubeconfig, namespace=args.namespace)
            print(f"Kubernetes API emulator serving at {emu.url}", flush=True)
            print(f"export KUBECONFIG={path.resolve()}", flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    print("emulator stopped", file=sys.stderr, flush=True)
    return 0
