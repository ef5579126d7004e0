"""`celigo-testkit demo | emulator | fake-celigo | fake-conductorone`: the dev and demo tooling.

None of this ships with the operator: `make demo` and the tests install this distribution beside it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from .kube import cli as emulator_cli
from .signals import wait_for_stop_signal


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(exit_after=args.exit)


def _fake_celigo(args: argparse.Namespace) -> int:
    """Serve the fake Celigo API (both regions); print one JSON line with the base URLs and tokens."""
    from .fake_celigo import REGIONS, FakeCeligo

    fake = FakeCeligo(
        host=args.host, users=args.users, integrations=args.integrations,
        ports={"us": args.us_port, "eu": args.eu_port},
    )
    if args.token:
        fake.add_token("us", token=args.token, name="Demo token")
    with fake:
        tokens = {
            region: args.token if args.token and region == "us" else fake.default_token(region)
            for region in REGIONS
        }
        print(json.dumps({"base_urls": fake.base_urls, "tokens": tokens}), flush=True)
        wait_for_stop_signal()
    return 0


def _fake_conductorone(args: argparse.Namespace) -> int:
    """Serve the fake ConductorOne with one connector; print one JSON line with the URL and credentials."""
    from .fake_conductorone import FakeConductorOne

    with FakeConductorOne(host=args.host, port=args.port, tenant_host=args.tenant_host) as fake:
        api_id, api_secret = fake.register_client()
        issued = fake.add_connector(args.app_id, args.connector_id)
        assert issued is not None
        print(
            json.dumps({
                "url": fake.url,
                "tenant_host": fake.tenant_host,
                "api_client": {"client_id": api_id, "client_secret": api_secret},
                "connector": {
                    "app_id": args.app_id,
                    "connector_id": args.connector_id,
                    "client_id": issued.client_id,
                    "client_secret": issued.client_secret,
                },
            }),
            flush=True,
        )
        wait_for_stop_signal()
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="celigo-testkit", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="emulator + fake Celigo + operator + sample resource, shown with kubectl")
    demo.add_argument("--exit", action="store_true", default=None, help="exit after showing (also DEMO_EXIT=1)")
    demo.set_defaults(func=_demo)

    emu = emulator_cli.add_arguments(sub.add_parser("emulator", help="serve the Kubernetes API emulator"))
    emu.set_defaults(func=emulator_cli.serve)

    celigo = sub.add_parser("fake-celigo", help="serve the fake Celigo API until interrupted")
    celigo.add_argument("--host", default="127.0.0.1")
    celigo.add_argument("--us-port", type=int, default=0)
    celigo.add_argument("--eu-port", type=int, default=0)
    celigo.add_argument("--users", type=int, default=42)
    celigo.add_argument("--integrations", type=int, default=7)
    celigo.add_argument("--token", help="use this value as the us account's token (default: random)")
    celigo.set_defaults(func=_fake_celigo)

    c1 = sub.add_parser("fake-conductorone", help="serve the fake ConductorOne API until interrupted")
    c1.add_argument("--host", default="127.0.0.1")
    c1.add_argument("--port", type=int, default=0)
    c1.add_argument("--tenant-host", default="example.conductor.one")
    c1.add_argument("--app-id", default="app-celigo")
    c1.add_argument("--connector-id", default="connector-celigo")
    c1.set_defaults(func=_fake_conductorone)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))
