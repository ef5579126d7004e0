"""`make demo`: the whole operator on one machine, no cluster and no Celigo account.

Starts the Kubernetes API emulator, a fake Celigo API and a fake ConductorOne, registers the CRD from
crds/ with the real kubectl, starts the real operator process, applies the sample resource from
deploy/samples/ with its credentials Secret, and shows what a user would see. Then it plays three short
scenes: a revoked Celigo token, recovery, and a credential rotation (one good, one rejected). Finally it
leaves everything running until Ctrl-C (unless DEMO_EXIT=1 or --exit).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from celigo_testkit.credentials import generate_client_credentials
from celigo_testkit.fake_celigo import FakeCeligo
from celigo_testkit.fake_conductorone import FakeConductorOne
from celigo_testkit.harness import Kubectl, OperatorProcess, operator_env
from celigo_testkit.kube import EmulatorSettings, KubeEmulator
from celigo_testkit.signals import wait_for_stop_signal

NAMESPACE = "baton-celigo"
CONDITIONS = (
    '{range .status.conditions[*]}{.type}{"\\t"}{.status}{"\\t"}{.reason}{"\\t"}{.message}{"\\n"}{end}'
)


def _root() -> Path:
    """The checkout (crds/, deploy/samples/), found from the current directory or the package."""
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        if (base / "crds" / "celigoconnectors.yaml").exists() and (base / "deploy" / "samples").is_dir():
            return base
    raise SystemExit("run the demo from the celigo-operator checkout (crds/ and deploy/samples/ are needed)")


class DemoFailed(Exception):
    """A step did not do what the demo shows; the operator log tells why."""


NAMESPACES = """apiVersion: v1
kind: Namespace
metadata:
  name: celigo-operator
---
apiVersion: v1
kind: Namespace
metadata:
  name: baton-celigo
"""


class Demo:
    def __init__(self, root: Path, workdir: Path, out: Any = sys.stdout) -> None:
        self.root, self.workdir, self.out = root, workdir, out
        self.kubectl: Kubectl | None = None

    def say(self, text: str) -> None:
        print(f"\n==> {text}", file=self.out, flush=True)

    def show(self, *args: str, input: str | None = None) -> str:
        """Run kubectl as a user would, print command and output; a failure stops the demo."""
        assert self.kubectl is not None
        print(f"$ kubectl {' '.join(args)}", file=self.out, flush=True)
        result = self.kubectl.run(*args, check=False, input=input)
        print((result.stdout + result.stderr).rstrip(), file=self.out, flush=True)
        if result.returncode != 0:
            raise DemoFailed(f"kubectl {' '.join(args)} exited {result.returncode}")
        return result.stdout

    def wait(self, condition: str, timeout: int = 60) -> None:
        self.show(
            "wait",
            "-n",
            NAMESPACE,
            f"--for=condition={condition}",
            "celigoconnector/celigo",
            f"--timeout={timeout}s",
        )

    def refresh(self) -> None:
        """Annotating the resource makes the operator check Celigo now instead of at the next interval."""
        self.show(
            "annotate",
            "-n",
            NAMESPACE,
            "celigoconnector/celigo",
            f"celigo-operator.io/refresh={time.time_ns()}",
            "--overwrite",
        )

    def apply_secret(self, values: dict[str, str]) -> None:
        sample = yaml.safe_load((self.root / "deploy" / "samples" / "credentials-secret.yaml").read_text())
        sample["stringData"] = values
        path = self.workdir / "credentials-secret.yaml"
        path.write_text(yaml.safe_dump(sample))
        path.chmod(0o600)
        self.show("apply", "-n", NAMESPACE, "-f", str(path))

    def run(self, exit_after: bool) -> int:
        settings = EmulatorSettings(rollout_delay=0.5)
        with KubeEmulator(settings=settings) as emu, FakeCeligo() as celigo, FakeConductorOne() as c1:
            kubeconfig = emu.write_kubeconfig(self.workdir / "kubeconfig")
            self.kubectl = Kubectl(kubeconfig)
            self.say(
                f"Kubernetes API emulator at {emu.tls_url}; fake Celigo at {celigo.url_for('us')} (us) and "
                f"{celigo.url_for('eu')} (eu); fake ConductorOne at {c1.url}"
            )
            self.say("Register the CRD from crds/ (the generated file, as a cluster admin would)")
            self.show("apply", "-f", str(self.root / "crds" / "celigoconnectors.yaml"))
            self.show("apply", "-f", "-", input=NAMESPACES)

            self.say("Start the operator (python -m celigo_operator run -A), configured like a deployment")
            env = operator_env(kubeconfig, celigo_urls=celigo.base_urls, conductorone_url=c1.url)
            env["CELIGO_OPERATOR_TICK_INTERVAL"] = "2"
            operator = OperatorProcess(env, self.workdir / "operator.log").start()
            try:
                return self._scenes(celigo, operator, exit_after)
            except DemoFailed as exc:
                print(
                    f"\nDEMO FAILED: {exc}\n--- operator log (last lines) ---\n{operator.log()[-3000:]}",
                    file=self.out,
                )
                return 1
            finally:
                operator.stop()

    def _scenes(self, celigo: FakeCeligo, operator: OperatorProcess, exit_after: bool) -> int:
        client_id, client_secret = generate_client_credentials("demo.conductor.one")
        token = celigo.add_token("us")
        creds = {
            "BATON_CLIENT_ID": client_id,
            "BATON_CLIENT_SECRET": client_secret,
            "BATON_CELIGO_ACCESS_TOKEN": token,
        }

        self.say(
            "Apply the sample from deploy/samples/: the credentials Secret (demo values) and the CeligoConnector"
        )
        self.apply_secret(creds)
        self.show(
            "apply", "-n", NAMESPACE, "-f", str(self.root / "deploy" / "samples" / "celigoconnector.yaml")
        )
        self.wait("Ready")

        self.say("What a user sees")
        self.show("get", "celigoconnectors", "-n", NAMESPACE)
        self.show("get", "celigoconnectors", "-n", NAMESPACE, "-o", "wide")
        self.say("The Secret and Deployment the operator made (and owns)")
        self.show(
            "get",
            "secret,deployment,pod",
            "-n",
            NAMESPACE,
            "-l",
            "app.kubernetes.io/managed-by=celigo-operator",
        )
        self.say("Conditions")
        self.show("get", "celigoconnector", "celigo", "-n", NAMESPACE, "-o", f"jsonpath={CONDITIONS}")
        self.show("get", "celigoconnector", "celigo", "-n", NAMESPACE, "-o", "jsonpath={.status.inventory}")
        print("", file=self.out)

        self.say("Scene 1: the Celigo token is revoked in Celigo (fake) -> Ready turns False with a reason")
        celigo.revoke_token(token)
        self.refresh()
        self.wait("Ready=False")
        self.show("get", "celigoconnectors", "-n", NAMESPACE, "-o", "wide")

        self.say("Scene 2: a new, valid token goes into the Secret -> verified, rolled out, Ready again")
        creds["BATON_CELIGO_ACCESS_TOKEN"] = celigo.add_token("us")
        self.apply_secret(creds)
        self.wait("Ready")
        self.show("get", "celigoconnector", "celigo", "-n", NAMESPACE, "-o", "jsonpath={.status.credentials}")
        print("", file=self.out)
        self.show("get", "celigoconnectors", "-n", NAMESPACE)

        self.say(
            "Scene 3: a bad token is put in the Secret -> rejected before rollout; the connector keeps running"
        )
        assert self.kubectl is not None
        good_template = self.kubectl.json("get", "deployment", "celigo-baton-celigo", "-n", NAMESPACE)[
            "spec"
        ]["template"]
        creds_bad = dict(creds, BATON_CELIGO_ACCESS_TOKEN="not-a-valid-celigo-token-" + os.urandom(6).hex())
        self.apply_secret(creds_bad)
        self.show(
            "wait",
            "-n",
            NAMESPACE,
            '--for=jsonpath={.status.conditions[?(@.type=="CredentialsValid")].reason}=NewCredentialsRejected',
            "celigoconnector/celigo",
            "--timeout=60s",
        )
        self.show("get", "celigoconnector", "celigo", "-n", NAMESPACE, "-o", f"jsonpath={CONDITIONS}")
        same = (
            self.kubectl.json("get", "deployment", "celigo-baton-celigo", "-n", NAMESPACE)["spec"]["template"]
            == good_template
        )
        print(
            f"\nDeployment pod template unchanged (pods still on the last good credentials): {same}",
            file=self.out,
        )
        self.say("Events on the resource (posted on transitions only)")
        self.show("get", "events", "-n", NAMESPACE, "--field-selector", "involvedObject.name=celigo")

        print(f"\nOperator log: {operator.log_path}", file=self.out)
        print(
            f"\nTry it yourself:\n  export KUBECONFIG={self.kubectl.kubeconfig}\n  kubectl get celigoconnectors -A",
            file=self.out,
        )
        if exit_after:
            self.say("DEMO_EXIT set: stopping")
            return 0
        print("\nEverything keeps running; press Ctrl-C to stop.", file=self.out, flush=True)
        wait_for_stop_signal(alive=lambda: operator.running)
        return 0


def run_demo(exit_after: bool | None = None) -> int:
    if exit_after is None:
        exit_after = os.environ.get("DEMO_EXIT", "") not in ("", "0", "false")
    root = _root()
    workdir = root / ".demo"
    workdir.mkdir(exist_ok=True)
    (workdir / "operator.log").unlink(missing_ok=True)
    return Demo(root, workdir).run(exit_after)


if __name__ == "__main__":
    raise SystemExit(run_demo())
