"""The machinery of the table-driven bad-input suite (tests/e2e/test_hostile_input_new.py and
test_hostile_input_update.py; the table: support/hostile_cases.py).

A `Case` is one bad (or, marked `Good`, merely odd) input: a spec overlay on a good connector, a change to its
credentials Secret, or both. A `Bench` tries every case of a phase at once against one namespace of the real
control plane, through the real kubectl binary, and records what happened to each (kubectl's answer, the
connector's conditions, its Events, its Deployment), so each case's test only compares that record with the
case's expectation:

- `Refused(field)`: `kubectl apply` (or create/patch) fails and its message names `field`; nothing was stored.
- `Reported(type, reason, names)`: the operator sets condition `type` False with `reason`, a message holding
  every string of `names`, Ready not True, an Event with that reason; and nothing rolled: no Deployment for a
  new connector, the same Deployment generation for an updated one.
- `Good(container)`: accepted and Ready, the Deployment's container holding `container`.

Placeholders in secret values and spec strings are filled per connector: `{token}` a fresh Celigo token of
region us, `{eu_token}` one of region eu, `{revoked}` a revoked one, `{hex}` 24 random hex characters (`{hexN}`: N),
`{client_id}` / `{client_secret}` the connector's good ConductorOne values, `{secret}` the Secret's name.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import string
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from celigo_operator import api, manifests
from celigo_testkit.fake_celigo import Fault
from celigo_testkit.harness import Kubectl
from install.installkit import SA
from install.test_rbac import shipped, start_as_deployed

from support.world import World, world

SecretValue = str | bytes | None  # None: the key is absent
ABSENT = None
NEW, UPDATE = "new", "update"


@dataclass(frozen=True)
class Refused:
    """Refused by the API server at `kubectl apply`; the message names `field`."""

    field: str

    def __str__(self) -> str:
        return f"refused at apply naming {self.field}"


@dataclass(frozen=True)
class Reported:
    """Condition `type`=False with `reason`, the message holding each of `names`; an Event; nothing rolled."""

    type: str
    reason: str
    names: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.type}=False/{self.reason} naming {', '.join(self.names)}"


@dataclass(frozen=True)
class Good:
    """Accepted and Ready (a careless but valid input); the connector container holds `container`."""

    container: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return "accepted and Ready" + (f" with container {json.dumps(self.container)}" if self.container else "")


Expect = Refused | Reported | Good


@dataclass(frozen=True)
class Case:
    """One row of the table. `spec` is merged into the good spec; `secret` overrides keys of the good Secret
    (None: key absent); `label` is the Secret's opt-in label value (None: no label); `verb` "create" sends new
    connectors with `kubectl create` and updates with `kubectl patch` (no last-applied annotation), "apply"
    uses `kubectl apply` for both. `update` is the expectation for the update run when it differs."""

    id: str
    expect: Expect
    spec: Mapping[str, Any] = field(default_factory=dict)
    secret: Mapping[str, SecretValue] = field(default_factory=dict)
    label: str | None = "true"
    secret_exists: bool = True
    name: str | None = None  # metadata.name of the new connector (default: from the id)
    verb: str = "apply"
    modes: tuple[str, ...] = (NEW, UPDATE)
    update: Expect | None = None

    def expected(self, mode: str) -> Expect:
        return self.update if mode == UPDATE and self.update is not None else self.expect


@dataclass(eq=False)
class Trial:
    """One case in one mode: what was sent and what was seen."""

    case: Case
    mode: str
    name: str
    secret_name: str
    values: dict[str, SecretValue] = field(default_factory=dict)  # the Secret's data as finally written
    needles: list[str] = field(default_factory=list)  # credential fragments used: never in log/Events/status
    kubectl_rc: int | None = None
    kubectl_err: str = ""
    before: dict[str, Any] = field(default_factory=dict)  # update: the Ready connector before the bad input
    setup_error: str = ""
    obj: dict[str, Any] | None = None
    deployment: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    sent_to_celigo: list[str] = field(default_factory=list)  # needles seen as a Celigo bearer
    waited: float | None = None  # seconds from the start of a wait until this trial was done

    @property
    def expect(self) -> Expect:
        return self.case.expected(self.mode)

    # --- what was seen, in words ---
    def conditions(self) -> dict[str, dict[str, Any]]:
        return {c["type"]: c for c in ((self.obj or {}).get("status") or {}).get("conditions") or []}

    def actual(self) -> str:
        parts = []
        if self.setup_error:
            parts.append(f"setup: {self.setup_error}")
        if self.kubectl_rc is not None:
            if self.kubectl_rc == 0:
                parts.append("kubectl accepted it")
            else:
                parts.append(f"kubectl refused it: {one_line(self.kubectl_err, 400)}")
        if self.obj is None:
            parts.append("no connector stored")
        else:
            conds = self.conditions()
            shown = [
                f"{t}={c['status']}/{c.get('reason')}: {one_line(c.get('message', ''), 160)}"
                for t, c in conds.items()
                if t == "Ready" or c["status"] != "True"
            ]
            parts.append("conditions: " + ("; ".join(shown) if shown else "none"))
            reasons = sorted({e.get("reason", "") for e in self.events})
            parts.append(f"events: {', '.join(reasons) or 'none'}")
        if self.deployment is None:
            parts.append("no Deployment")
        else:
            gen = self.deployment["metadata"].get("generation")
            was = self.before.get("deployment_generation")
            parts.append(f"Deployment generation {gen}" + (f" (was {was})" if was is not None else ""))
        if self.sent_to_celigo:
            parts.append(f"sent to Celigo as a bearer: {len(self.sent_to_celigo)} credential value(s)")
        return " | ".join(parts)


def one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """`overlay` deep-merged into a copy of `base` (mappings merge, anything else replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


#: Fixed text inside some table values that messages may rightly quote (the client secret's documented prefix).
PUBLIC = ("secret-token:conductorone.com:v1:", "@tenant.conductor.one/", "tenant.conductor.one")


def fragments(value: SecretValue, minimum: int = 12) -> list[str]:
    """The printable runs of a value long enough to be recognised elsewhere (a whole token, the parts of a
    token split by a space or newline, the ends of a 700 KB value), unless they are mostly public text."""
    if value is None:
        return []
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    allowed = set(string.ascii_letters + string.digits + "-_.:=+/@")
    runs, run = [], []
    for ch in text + "\0":
        if ch in allowed:
            run.append(ch)
            continue
        word = "".join(run)
        rest = word
        for public in PUBLIC:
            rest = rest.replace(public, "")
        if len(rest) >= minimum:
            runs += [word] if len(word) <= 256 else [word[:128], word[-64:]]
        run = []
    return runs


class Filler:
    """Fills the placeholders of one trial, remembering every generated credential fragment."""

    def __init__(self, w: World, good: Mapping[str, str], secret_name: str) -> None:
        self.w, self.good, self.secret_name = w, good, secret_name
        self.generated: list[str] = []

    def _one(self, name: str) -> str:
        if name == "hex":
            value = secrets.token_hex(12)
        elif name.startswith("hex") and name[3:].isdigit():  # {hex4096}: that many hex characters
            value = secrets.token_hex(int(name[3:]) // 2 + 1)[: int(name[3:])]
        elif name == "token":
            value = self.w.celigo.add_token("us")
        elif name == "eu_token":
            value = self.w.celigo.add_token("eu")
        elif name == "revoked":
            value = self.w.celigo.add_token("us")
            self.w.celigo.revoke_token(value)
        elif name == "client_id":
            return self.good["BATON_CLIENT_ID"]
        elif name == "client_secret":
            return self.good["BATON_CLIENT_SECRET"]
        elif name == "secret":
            return self.secret_name
        else:
            raise KeyError(f"unknown placeholder {{{name}}}")
        self.generated.append(value)
        return value

    def text(self, value: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: self._one(m.group(1)), value)

    def value(self, value: SecretValue) -> SecretValue:
        if isinstance(value, bytes):
            return re.sub(rb"\{(\w+)\}", lambda m: self._one(m.group(1).decode()).encode(), value)
        return None if value is None else self.text(value)

    def tree(self, node: Any) -> Any:
        if isinstance(node, Mapping):
            return {self.text(k): self.tree(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.tree(v) for v in node]
        return self.text(node) if isinstance(node, str) else node


class Bench:
    """One namespace of the real control plane where the table's connectors live, and what was seen there."""

    def __init__(self, w: World, ns: str, kubectl: Kubectl, workdir: Path) -> None:
        self.w, self.ns, self.kubectl, self.workdir = w, ns, kubectl, workdir
        self.trials: dict[tuple[str, str], Trial] = {}
        self.never_sent: dict[str, Trial] = {}  # credential fragment -> trial: never a Celigo bearer
        self._lock = threading.Lock()
        self._serial = 0
        self.goods: dict[str, dict[str, str]] = {}  # update run: each connector's good Secret values
        self.timings: dict[str, object] = {}  # seconds per step, for the report
        self.sentinel = w.celigo.inject(Fault(times=None, match_token=self._watch_bearer))

    # --- the Celigo side: no request may carry a value the operator must not send ---
    def _watch_bearer(self, bearer: str) -> bool:
        with self._lock:
            for needle, trial in self.never_sent.items():
                if needle in bearer and needle not in trial.sent_to_celigo:
                    trial.sent_to_celigo.append(needle)
        return False  # only watching: the request is answered normally

    # --- objects ---
    def connector(self, name: str, secret_name: str, overlay: Mapping[str, Any]) -> dict[str, Any]:
        spec = merge({"credentialsSecretRef": {"name": secret_name}}, overlay)
        return {
            "apiVersion": api.API_VERSION,
            "kind": api.KIND,
            "metadata": {"name": name, "namespace": self.ns},
            "spec": spec,
        }

    def write_secret(self, name: str, values: Mapping[str, SecretValue], label: str | None) -> None:
        data = {}
        for key, value in values.items():
            if value is None:
                continue
            raw = value if isinstance(value, bytes) else value.encode()
            data[key] = base64.b64encode(raw).decode()
        body = {
            "metadata": {"name": name, "labels": {api.CREDENTIALS_OPT_IN_LABEL: label} if label is not None else {}},
            "data": data,
        }
        try:
            self.w.core.create_namespaced_secret(self.ns, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.w.core.replace_namespaced_secret(name, self.ns, body)

    def _file(self, obj: Mapping[str, Any]) -> Path:
        with self._lock:
            self._serial += 1
            path = self.workdir / f"obj-{self._serial}.json"
        path.write_text(json.dumps(obj))
        return path

    def send(self, verb: str, obj: Mapping[str, Any], *, patch: Mapping[str, Any] | None = None) -> tuple[int, str]:
        """The real kubectl: `apply -f`, `create -f`, or `patch --type merge` of `patch` (no last-applied)."""
        if verb == "patch":
            path = self._file(patch or {})
            args = ["patch", api.PLURAL, obj["metadata"]["name"], "-n", self.ns, "--type", "merge", "--patch-file",
                    str(path)]
        else:
            args = [verb, "-f", str(self._file(obj))]
        try:
            result = self.kubectl.run(*args, check=False, timeout=120)
        except subprocess.TimeoutExpired as exc:
            return 124, f"kubectl timed out: {exc}"
        return result.returncode, result.stderr + result.stdout

    # --- the table ---
    def prepare(self, case: Case, mode: str) -> Trial:
        with self._lock:
            self._serial += 1
            serial = self._serial
        name = case.name if (case.name and mode == NEW) else f"{mode[0]}-{case.id}"
        trial = Trial(case, mode, name=name, secret_name=f"creds-{serial}")
        self.trials[(mode, case.id)] = trial
        return trial

    def good_values(self, trial: Trial) -> dict[str, str]:
        good = self.w.credentials()
        trial.needles += [good["BATON_CLIENT_SECRET"], good["BATON_CELIGO_ACCESS_TOKEN"]]
        with self._lock:  # a ConductorOne client id or secret is never a Celigo bearer
            self.never_sent[good["BATON_CLIENT_SECRET"]] = trial
            self.never_sent[good["BATON_CLIENT_ID"].split("/", 1)[-1]] = trial
        return good

    def bad_values(self, trial: Trial, good: Mapping[str, str]) -> tuple[dict[str, SecretValue], dict[str, Any]]:
        """The Secret's values and the spec overlay of the case, placeholders filled."""
        filler = Filler(self.w, good, trial.secret_name)
        values: dict[str, SecretValue] = dict(good)
        for key, value in trial.case.secret.items():
            values[key] = filler.value(value)
        overlay = filler.tree(trial.case.spec)
        malformed = isinstance(trial.expect, Reported) and trial.expect.reason.startswith(("Malformed", "KeyMissing"))
        for key in trial.case.secret:
            for needle in fragments(values[key]):
                trial.needles.append(needle)
                if malformed:
                    with self._lock:
                        self.never_sent[needle] = trial
        for needle in filler.generated:
            if needle not in trial.needles:
                trial.needles += fragments(needle)
        return values, overlay

    def run_new(self, cases: Sequence[Case], workers: int = 4) -> None:
        """Send every new connector (each through its own kubectl), wait for all of them."""
        trials = [self.prepare(c, NEW) for c in cases]

        def one(trial: Trial) -> None:
            case = trial.case
            good = self.good_values(trial)
            values, overlay = self.bad_values(trial, good)
            if case.secret_exists:
                self.write_secret(trial.secret_name, values, case.label)
            trial.values = dict(values)
            verb = "create" if case.verb == "create" else "apply"
            trial.kubectl_rc, trial.kubectl_err = self.send(verb, self.connector(trial.name, trial.secret_name, overlay))

        with self.timed("new: send"), ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, trials))
        with self.timed("new: settle"):
            self.settle(trials)

    def start_update(self, cases: Sequence[Case], workers: int = 4) -> None:
        """The good connectors the update run spoils: their Secrets, and a `kubectl apply` of them per worker."""
        trials = [self.prepare(c, UPDATE) for c in cases]

        def secret(trial: Trial) -> None:
            self.goods[trial.name] = self.good_values(trial)
            self.write_secret(trial.secret_name, self.goods[trial.name], "true")

        def apply(chunk: Sequence[Trial]) -> None:
            items = [self.connector(t.name, t.secret_name, {}) for t in chunk]
            rc, err = self.send("apply", {"apiVersion": "v1", "kind": "List", "items": items})
            if rc != 0:
                for trial in chunk:
                    trial.setup_error = f"the good connectors were refused: {one_line(err, 300)}"

        with self.timed("update: create the good connectors"), ThreadPoolExecutor(workers) as pool:
            list(pool.map(secret, trials))
            list(pool.map(apply, [trials[i::workers] for i in range(workers)]))

    def run_update(self, workers: int = 4, ready_timeout: float = 180.0) -> None:
        """Wait until every good connector is Ready, remember its state, spoil them all, wait for all."""
        trials = [t for (mode, _), t in self.trials.items() if mode == UPDATE]
        with self.timed("update: wait Ready"):
            self.wait_all(trials, lambda t, view: self._ready(view), ready_timeout)
        snapshot = self.seen()
        for trial in trials:
            obj, dep = snapshot.connector(trial.name), snapshot.deployment_of(trial.name)
            if not trial.setup_error and (obj is None or dep is None or not self._ready(snapshot.of(trial.name))):
                trial.setup_error = "the good connector never became Ready: " + Trial(
                    trial.case, UPDATE, trial.name, trial.secret_name, obj=obj, deployment=dep).actual()
            if obj is not None and dep is not None:
                trial.before = {
                    "generation": obj["metadata"]["generation"],
                    "deployment_generation": dep["metadata"]["generation"],
                    "template": dep["spec"]["template"],
                    "credentials": ((obj.get("status") or {}).get("credentials") or {}).get("version"),
                }

        def spoil(trial: Trial) -> None:
            if trial.setup_error:
                return
            case, good = trial.case, self.goods[trial.name]
            values, overlay = self.bad_values(trial, good)
            trial.values = dict(values)
            if not case.secret_exists:
                self.w.core.delete_namespaced_secret(trial.secret_name, self.ns)
            elif case.secret or case.label != "true":
                self.write_secret(trial.secret_name, values, case.label)
            if overlay:
                obj = self.connector(trial.name, trial.secret_name, overlay)
                if case.verb == "create":
                    trial.kubectl_rc, trial.kubectl_err = self.send("patch", obj, patch={"spec": overlay})
                else:
                    trial.kubectl_rc, trial.kubectl_err = self.send("apply", obj)

        with self.timed("update: spoil"), ThreadPoolExecutor(workers) as pool:
            list(pool.map(spoil, trials))
        with self.timed("update: settle"):
            self.settle(trials)

    @contextmanager
    def timed(self, what: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.timings[what] = round(time.monotonic() - start, 1)

    # --- watching ---
    def seen(self) -> Seen:
        items = self.w.custom.list_namespaced_custom_object(api.GROUP, api.VERSION, self.ns, api.PLURAL)["items"]
        deps = json.loads(self.w.apps.list_namespaced_deployment(self.ns, _preload_content=False).data)["items"]
        events = json.loads(self.w.core.list_namespaced_event(self.ns, _preload_content=False).data)["items"]
        return Seen(items, deps, events)

    @staticmethod
    def _ready(view: View) -> bool:
        ready = view.conditions.get("Ready") or {}
        return bool(
            view.obj is not None
            and view.deployment is not None
            and ready.get("status") == "True"
            and (view.obj.get("status") or {}).get("observedGeneration") == view.obj["metadata"]["generation"]
        )

    def wait_all(self, trials: Iterable[Trial], done: Callable[[Trial, View], bool], timeout: float) -> None:
        """Poll one list of connectors, Deployments and Events at a time until every trial is done or the
        deadline passes (a trial still not done is judged by its test, not here)."""
        pending = [t for t in trials if not t.setup_error]
        for trial in pending:
            trial.waited = None
        start = time.monotonic()
        while pending and time.monotonic() < start + timeout:
            seen = self.seen()
            still = [t for t in pending if not done(t, seen.of(t.name))]
            for trial in set(pending) - set(still):
                trial.waited = round(time.monotonic() - start, 1)
            pending = still
            if pending:
                time.sleep(1.0)

    def settle(self, trials: Sequence[Trial], timeout: float = 120.0) -> None:
        def done(trial: Trial, view: View) -> bool:
            if trial.setup_error:
                return True
            expect = trial.expect
            if isinstance(expect, Refused):
                return trial.kubectl_rc != 0 or view.obj is None or self._acted(trial, view)
            if isinstance(expect, Good):
                return self._ready(view)
            return self._acted(trial, view) and reported(expect, view)

        self.wait_all(trials, done, timeout)
        waits = [(t.waited, t.case.id) for t in trials if t.waited is not None]
        if waits:
            self.timings[f"{trials[0].mode}: slowest case done after"] = max(waits)
        seen = self.seen()
        for trial in trials:
            view = seen.of(trial.name)
            trial.obj, trial.deployment, trial.events = view.obj, view.deployment, view.events

    @staticmethod
    def _acted(trial: Trial, view: View) -> bool:
        """The operator has written a status for the connector's current generation, with a condition that
        differs from the Ready state an update started from (or any status, for a new connector)."""
        if view.obj is None:
            return False
        status = view.obj.get("status") or {}
        if status.get("observedGeneration") != view.obj["metadata"]["generation"]:
            return False
        if trial.mode == NEW:
            return bool(status.get("conditions"))
        return (view.conditions.get("Ready") or {}).get("status") != "True" or bool(
            trial.case.spec and view.obj["metadata"]["generation"] != trial.before.get("generation"))


def reported(expect: Reported, view: View) -> bool:
    c = view.conditions.get(expect.type) or {}
    return (
        c.get("status") == "False"
        and c.get("reason") == expect.reason
        and any(e.get("reason") == expect.reason for e in view.events)
    )


@dataclass
class View:
    obj: dict[str, Any] | None
    deployment: dict[str, Any] | None
    events: list[dict[str, Any]]

    @property
    def conditions(self) -> dict[str, dict[str, Any]]:
        return {c["type"]: c for c in ((self.obj or {}).get("status") or {}).get("conditions") or []}


class Seen:
    """One read of the namespace: connectors, Deployments (found by owner uid) and Events by object name."""

    def __init__(self, items: list[dict], deployments: list[dict], events: list[dict]) -> None:
        self.by_name = {o["metadata"]["name"]: o for o in items}
        self.by_owner: dict[str, dict] = {}
        for dep in deployments:
            for ref in dep["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == api.KIND:
                    self.by_owner[ref["uid"]] = dep
        self.events: dict[str, list[dict]] = {}
        for ev in events:
            self.events.setdefault((ev.get("involvedObject") or {}).get("name", ""), []).append(ev)

    def connector(self, name: str) -> dict | None:
        return self.by_name.get(name)

    def deployment_of(self, name: str) -> dict | None:
        obj = self.by_name.get(name)
        return self.by_owner.get(obj["metadata"]["uid"]) if obj else None

    def of(self, name: str) -> View:
        return View(self.connector(name), self.deployment_of(name), self.events.get(name, []))



def subset(want: Any, have: Any) -> bool:
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(subset(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):  # every wanted item is in the list
        return isinstance(have, list) and all(any(subset(x, y) for y in have) for x in want)
    return bool(want == have)


def judge(trial: Trial, now: View) -> list[str]:
    """What is wrong with a trial, measured against its expectation; `now` is a fresh read of the connector
    (nothing may have rolled since the phase ended either)."""
    expect, mode = trial.expect, trial.mode
    if trial.setup_error:
        return [trial.setup_error]
    problems: list[str] = []
    dep_gen = (now.deployment or {}).get("metadata", {}).get("generation")
    if isinstance(expect, Refused):
        if trial.kubectl_rc in (None, 0):
            problems.append("kubectl accepted it")
        elif expect.field not in trial.kubectl_err:
            problems.append(f"kubectl's message does not name {expect.field}")
        if mode == NEW and now.obj is not None:
            problems.append("a connector was stored")
        if mode == UPDATE and now.obj is not None and now.obj["metadata"]["generation"] != trial.before["generation"]:
            problems.append("the stored spec changed")
    elif isinstance(expect, Good):
        if trial.kubectl_rc not in (None, 0):
            problems.append("kubectl refused it")
        elif not Bench._ready(now):
            problems.append("not Ready for its current generation")
        elif expect.container:
            containers = now.deployment["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
            if not any(subset(expect.container, c) for c in containers):
                problems.append(f"the Deployment's container lacks {json.dumps(expect.container)}")
        return problems
    else:
        if trial.kubectl_rc not in (None, 0):
            problems.append("kubectl refused it")
        c = now.conditions.get(expect.type) or {}
        if (c.get("status"), c.get("reason")) != ("False", expect.reason):
            problems.append(f"no {expect.type}=False/{expect.reason}")
        else:
            names = [n.replace("{secret}", trial.secret_name) for n in expect.names]
            missing = [n for n in names if n not in c.get("message", "")]
            if missing:
                problems.append(f"the message does not name {', '.join(missing)}")
            gen = (now.obj or {}).get("metadata", {}).get("generation")
            if c.get("observedGeneration") not in (None, gen):
                problems.append("the condition is for an older generation")
        if (now.conditions.get("Ready") or {}).get("status") == "True":
            problems.append("Ready is still True")
        if not any(e.get("reason") == expect.reason for e in now.events):
            problems.append(f"no Event {expect.reason}")
        if trial.sent_to_celigo:
            problems.append("a malformed or misplaced credential value was sent to Celigo as a bearer token")
    # nothing rolled (refused and reported alike)
    if mode == NEW and now.deployment is not None:
        problems.append(f"a Deployment was created (generation {dep_gen})")
    if mode == UPDATE:
        if dep_gen != trial.before.get("deployment_generation"):
            problems.append(f"the Deployment rolled (generation {trial.before.get('deployment_generation')} -> {dep_gen})")
        version = (((now.obj or {}).get("status") or {}).get("credentials") or {}).get("version")
        if version != trial.before.get("credentials"):
            problems.append("status.credentials.version moved")
    return problems


@contextmanager
def bench(tmp: Path) -> Iterator[Bench]:
    """The operator as deploy/ ships it, authenticated as its ServiceAccount under the shipped RBAC, on the real
    control plane; one namespace holding a good connector (`good`) and every case's connectors."""
    objects = shipped("deploy")
    rbac = [o for o in objects if o["kind"] in ("ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")]
    with world(tmp, start_operator=False, kube="real") as w:
        cp = w.emu.cp  # type: ignore[union-attr]
        admin = Kubectl(w.kubeconfig, binary=cp.assets.kubectl)
        admin("apply", "-f", "-", input=yaml.safe_dump_all(rbac))
        try:
            sa_kubeconfig = cp.write_kubeconfig(tmp / "sa-kubeconfig", cp.create_token(*SA), user="celigo-operator")
            op, _ = start_as_deployed(w, objects, tmp, kubeconfig=sa_kubeconfig)
            b: Bench | None = None
            try:
                ns = w.namespace("hostile")
                b = Bench(w, ns, admin, tmp)
                w.put_secret(ns, w.credentials(), name="good-creds")
                w.create_connector(ns, "good", credentialsSecretRef={"name": "good-creds"})
                w.wait_ready(ns, "good", timeout=120)
                yield b
                print(f"\nhostile input: seconds per step {json.dumps(b.timings)}")  # shown with -s
            finally:
                op.stop(timeout=10)
                if b is not None:  # one request instead of the world's one per connector
                    w.custom.delete_collection_namespaced_custom_object(api.GROUP, api.VERSION, b.ns, api.PLURAL)
        finally:
            admin.run("delete", "-f", "-", "--ignore-not-found", input=yaml.safe_dump_all(rbac), check=False)


def fresh(b: Bench, name: str) -> View:
    """The connector, its Deployment (the operator's child name, owned by this connector) and its Events as
    they are now: a few small reads, as every case's test makes them."""
    w = b.w
    try:
        obj = w.custom.get_namespaced_custom_object(api.GROUP, api.VERSION, b.ns, api.PLURAL, name)
    except ApiException as exc:
        if exc.status != 404:
            raise
        obj = None
    dep = None
    if obj is not None:
        try:
            dep = json.loads(w.apps.read_namespaced_deployment(
                manifests.child_name(name), b.ns, _preload_content=False).data)
        except ApiException as exc:
            if exc.status != 404:
                raise
    if dep is not None and not any(r.get("uid") == obj["metadata"]["uid"] for r in dep["metadata"].get("ownerReferences") or []):
        dep = None
    events = json.loads(w.core.list_namespaced_event(
        b.ns, field_selector=f"involvedObject.name={name}", _preload_content=False).data)["items"]
    return View(obj, dep, events)


def check(b: Bench, mode: str, case: Case) -> None:
    trial = b.trials[(mode, case.id)]
    problems = judge(trial, fresh(b, trial.name))
    assert not problems, f"expected {trial.expect}; {'; '.join(problems)}\n  actual: {trial.actual()}"


def leaks(b: Bench) -> tuple[list[str], int]:
    """Every place (the operator log, Events, status, annotations but the user's own last-applied spec) holding
    a credential value of the bench's trials or of a good connector, and how many values were looked for."""
    w = b.w
    needles: dict[str, str] = {}
    for (mode, case_id), trial in b.trials.items():
        for needle in trial.needles:
            needles.setdefault(needle, f"{mode}/{case_id}")
    for value in w.secrets_seen:
        for needle in fragments(value):
            needles.setdefault(needle, "a good credential")
    assert w.operator is not None
    places = {"the operator log": w.operator.log()}
    events = json.loads(w.core.list_namespaced_event(b.ns, _preload_content=False).data)["items"]
    for e in events:
        where = f"Event {e.get('reason')} of {(e.get('involvedObject') or {}).get('name')}"
        places[where] = places.get(where, "") + json.dumps([e.get(k) for k in ("reason", "message", "note", "action")])
    for o in w.custom.list_namespaced_custom_object(api.GROUP, api.VERSION, b.ns, api.PLURAL)["items"]:
        name = o["metadata"]["name"]
        places[f"status of {name}"] = json.dumps(o.get("status"))
        for key, value in (o["metadata"].get("annotations") or {}).items():
            if key != "kubectl.kubernetes.io/last-applied-configuration":  # the user's own spec
                places[f"annotation {key} of {name}"] = value
    found = sorted({f"{where}: a value of {owner}" for needle, owner in needles.items()
                    for where, text in places.items() if needle in text})
    return found, len(needles)
