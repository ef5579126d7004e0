"""`celigo-testkit emulator`: run the emulated API server in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..signals import wait_for_stop_signal
from .emulator import EmulatorSettings, KubeEmulator


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
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


def build_parser() -> argparse.ArgumentParser:
    return add_arguments(
        argparse.ArgumentParser(
            prog="celigo-testkit emulator", description="Serve an emulated Kubernetes API on loopback."
        )
    )


def serve(args: argparse.Namespace) -> int:
    """Start the emulator, write the kubeconfig, print the KUBECONFIG line, serve until a signal."""
    settings = EmulatorSettings(rollout_delay=args.rollout_delay)
    with KubeEmulator(host=args.host, port=args.port, token=args.token, settings=settings) as emu:
        path = emu.write_kubeconfig(args.kubeconfig, namespace=args.namespace)
        print(f"Kubernetes API emulator serving at {emu.url}", flush=True)
        print(f"export KUBECONFIG={path.resolve()}", flush=True)
        wait_for_stop_signal()
    print("emulator stopped", file=sys.stderr, flush=True)
    return 0


def run_emulator_cli(argv: Sequence[str] | None = None) -> int:
    return serve(build_parser().parse_args(list(argv) if argv is not None else None))
