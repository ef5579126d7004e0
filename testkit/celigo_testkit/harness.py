"""Run the real operator process and the real kubectl against a cluster (tests, demo, benchmarks).

The operator is started exactly as `make run` starts it (`python -m celigo_operator run`), configured only
through its documented CELIGO_OPERATOR_* environment, so what the tests see is what users run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

KUBECTL = os.environ.get("KUBECTL", "kubectl")


class Kubectl:
    """The real kubectl binary pointed at one kubeconfig."""

    def __init__(
        self, kubeconfig: str | Path, *, namespace: str | None = None, binary: str | Path | None = None
    ) -> None:
        self.kubeconfig = str(kubeconfig)
        self.namespace = namespace
        self.binary = str(binary or KUBECTL)  # e.g. the control plane's own kubectl (controlplane.Assets)

    def run(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 150.0
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, "--kubeconfig", self.kubeconfig]
        if self.namespace and "-n" not in args and "--namespace" not in args and "-A" not in args:
            cmd += ["-n", self.namespace]
        result = subprocess.run(
            [*cmd, *args], capture_output=True, text=True, input=input, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def __call__(self, *args: str, **kwargs: Any) -> str:
        return self.run(*args, **kwargs).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


def operator_env(
    kubeconfig: str | Path,
    *,
    celigo_urls: Mapping[str, str] | None = None,
    conductorone_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for a test/demo operator: fast ticks, no fixed ports, fakes as the outside world."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELIGO_OPERATOR_")}
    env.update(
        {
            "KUBECONFIG": str(kubeconfig),
            "CELIGO_OPERATOR_OPERATOR_NAMESPACE": "celigo-operator",
            "CELIGO_OPERATOR_TICK_INTERVAL": "1",
            "CELIGO_OPERATOR_MIN_READY_SECONDS": "0",
            "CELIGO_OPERATOR_LIVENESS_ENDPOINT": "none",
            "CELIGO_OPERATOR_METRICS_PORT": "none",
            "CELIGO_OPERATOR_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if celigo_urls:
        env["CELIGO_OPERATOR_CELIGO_BASE_URLS"] = ",".join(f"{k}={v}" for k, v in celigo_urls.items())
    if conductorone_url:
        env["CELIGO_OPERATOR_CONDUCTORONE_BASE_URL"] = conductorone_url
    env.update(extra or {})
    return env


class OperatorProcess:
    """`python -m celigo_operator run ...` as a child process, its log captured to a file."""

    def __init__(self, env: Mapping[str, str], log_path: str | Path, args: Sequence[str] = ("-A",)) -> None:
        self.env = dict(env)
        self.log_path = Path(log_path)
        self.args = list(args)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celigo_operator", "run", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll until `predicate()` is truthy; returns its value or raises with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate!r}; last: {last!r}")
