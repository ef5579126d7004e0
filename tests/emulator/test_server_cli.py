"""run_emulator_cli: serves until SIGTERM, writes a working kubeconfig, prints the KUBECONFIG line."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import kubernetes


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    code = "import sys; from celigo_testkit.kube.cli import run_emulator_cli; sys.exit(run_emulator_cli(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", "--kubeconfig", str(kc)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert lines[1].strip() == f"export KUBECONFIG={kc.resolve()}", lines
        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=str(kc), client_configuration=cfg)
        assert cfg.host.startswith("https://127.0.0.1:")
        with kubernetes.client.ApiClient(cfg) as c:
            names = {n.metadata.name for n in kubernetes.client.CoreV1Api(c).list_namespace().items}
        assert "default" in names
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
