"""`celigo-operator run | doctor | crd | version`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from celigo_operator import __version__, api
from celigo_operator.config import OperatorConfig


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors in a pod."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        k8s_obj = getattr(record, "k8s_ref", None)
        if isinstance(k8s_obj, dict):
            entry["object"] = f"{k8s_obj.get('namespace', '')}/{k8s_obj.get('name', '')}"
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry)


class QuietTicks(logging.Filter):
    """Drop kopf's per-tick "Timer ... succeeded" lines: a timer fires every few seconds per resource."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        return not (
            record.name.startswith("kopf") and msg.startswith("Timer ") and msg.endswith("succeeded.")
        )


def setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(QuietTicks())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # urllib3/httpx at DEBUG would print request headers (bearer tokens): keep them quiet at any level.
    for noisy in ("urllib3", "httpx", "httpcore", "aiohttp.access", "kubernetes.client.rest"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _run(args: argparse.Namespace) -> int:
    from celigo_operator import preflight, runtime
    from celigo_operator.kube import load_api_client

    namespaces = () if args.all_namespaces else tuple(args.namespace or ())
    try:
        config = OperatorConfig.from_env(
            namespaces=namespaces or None,
            log_format=args.log_format,
            log_level=args.log_level,
            liveness_endpoint=args.liveness,
            tick_interval=args.tick_interval,
        )
    except ValueError as exc:  # a setting that does not parse: one line, and no restart loop of tracebacks
        setup_logging(args.log_format or "text", "INFO")
        logging.getLogger(__name__).error("setup error: %s", exc)
        return preflight.EXIT_SETUP
    if args.all_namespaces:
        config = dataclasses.replace(config, namespaces=())
    setup_logging(config.log_format, config.log_level)
    log = logging.getLogger(__name__)
    log.info(
        "celigo-operator %s starting: %s",
        __version__,
        "all namespaces" if not config.namespaces else "namespaces " + ", ".join(config.namespaces),
    )
    api_client = load_api_client(args.kubeconfig, args.context, pool_size=config.api_workers)
    problems = preflight.check(api_client, config)
    for problem in problems:
        log.error("setup error: %s", problem)
    if problems:
        return preflight.EXIT_SETUP
    return runtime.run(config, api_client)


def _crd(_: argparse.Namespace) -> int:
    sys.stdout.write("# Generated from operator/celigo_operator/api.py by `make crds`; do not edit.\n")
    sys.stdout.write(yaml.safe_dump(api.crd(), sort_keys=False, width=120))
    return 0


def _version(_: argparse.Namespace) -> int:
    print(__version__)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from celigo_operator.doctor import run_doctor

    setup_logging("text", "WARNING")
    try:
        config = OperatorConfig.from_env()
    except ValueError as exc:
        print(f"setup error: {exc}", file=sys.stdout)
        return 2
    return run_doctor(
        sys.stdout,
        region=args.region,
        token_file=args.token_file,
        resource=args.from_resource,
        kubeconfig=args.kubeconfig,
        config=config,
        policy=args.policy,
        namespace=None if args.all_namespaces else args.namespace,
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="celigo-operator", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator against the current kubeconfig context or in-cluster")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", action="append", help="watch this namespace (repeatable)")
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace")
    run.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    run.add_argument("--context", help="kubeconfig context")
    run.add_argument(
        "--log-format", choices=["text", "json"], help="log format (env CELIGO_OPERATOR_LOG_FORMAT)"
    )
    run.add_argument("--log-level", help="log level (env CELIGO_OPERATOR_LOG_LEVEL)")
    run.add_argument("--liveness", help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--tick-interval", type=float, help="seconds between re-reads of each resource")
    run.set_defaults(func=_run)

    sub.add_parser("crd", help="print the CustomResourceDefinition").set_defaults(func=_crd)
    sub.add_parser("version", help="print the version").set_defaults(func=_version)

    doc = sub.add_parser(
        "doctor",
        help="run the health checks once and print a report (exit 0 when healthy); --policy: scan for "
        "connectors the pod policy would refuse",
    )
    doc.add_argument("--region", choices=["us", "eu"], help="Celigo region of the token")
    doc.add_argument("--token-file", help="file holding a Celigo API token")
    doc.add_argument("--from-resource", metavar="NS/NAME", help="check a CeligoConnector and its Secret")
    doc.add_argument(
        "--policy",
        action="store_true",
        help="list the CeligoConnectors this release's pod policy would refuse, with reasons (before an upgrade)",
    )
    where = doc.add_mutually_exclusive_group()
    where.add_argument("--namespace", "-n", help="with --policy: only this namespace")
    where.add_argument("--all-namespaces", "-A", action="store_true", help="with --policy: every namespace (default)")
    doc.add_argument("--kubeconfig", help="kubeconfig for --from-resource and --policy (default: $KUBECONFIG)")
    doc.set_defaults(func=_doctor)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))
