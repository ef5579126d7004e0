"""A real Kubernetes control plane for the tests: etcd, kube-apiserver and kube-controller-manager.

The envtest arrangement of controller-runtime projects, plus kube-controller-manager so Deployments get
ReplicaSets and Pods and owner references are garbage-collected. There is no scheduler and no kubelet:
`celigo_testkit.podsim` binds pods to a simulated node and reports their status, as KWOK does.

Assets are found the envtest way: `KUBEBUILDER_ASSETS` (a folder holding `kube-apiserver` and `etcd`,
optionally `kube-controller-manager` and `kubectl`), else `../shared/k8s/` beside the repository root,
unpacked (xz) and checked against its SHA256SUMS into `~/.cache/celigo-operator/k8s-<version>`, with etcd
taken from PATH (Debian: `apt-get install etcd-server`).

Every child runs in its own process group with PR_SET_PDEATHSIG, and `stop()` kills the groups and removes
the temporary directory; `shared()` starts one control plane per process, stopped at exit, on SIGTERM and
on Ctrl-C.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import datetime as dt
import hashlib
import json
import lzma
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

K8S_VERSION = "v1.36.2"
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_ASSETS = REPO_ROOT.parent / "shared" / "k8s"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "celigo-operator" / f"k8s-{K8S_VERSION}"

ADMIN_USER = "celigo-testkit:admin"
KCM_USER = "system:kube-controller-manager"
KUBELET_USER = "celigo-testkit:kubelet"  # the pod simulator (podsim)
# Users whose requests are the cluster's own work (what the emulator does internally, never logs).
CONTROL_PLANE_USERS = (KCM_USER, KUBELET_USER)
CONTROL_PLANE_USER_PREFIXES = ("system:serviceaccount:kube-system:", "system:apiserver", "system:kube-")

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
"""


class AssetsMissing(RuntimeError):
    """The binaries are not there; the message says how to get them."""


@dataclass(frozen=True)
class Assets:
    kube_apiserver: Path
    etcd: Path
    kube_controller_manager: Path | None
    kubectl: Path | None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def unpack_shared(source: Path = SHARED_ASSETS, cache: Path = CACHE) -> Path:
    """Unpack `source/*.xz` into `cache`, each file checked against `source/SHA256SUMS`; idempotent."""
    sums = {}
    for line in (source / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name.lstrip("*")] = digest
    cache.mkdir(parents=True, exist_ok=True)
    for name, digest in sums.items():
        target, ok = cache / name, cache / f".{name}.ok"
        # another process (an xdist worker) may be unpacking the same file: its .ok is written last
        if target.exists() and ok.exists() and ok.read_text(errors="replace").strip() == digest:
            continue
        tmp = cache / f".{name}.{os.getpid()}.tmp"
        with lzma.open(source / f"{name}.xz") as src, tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        actual = _sha256(tmp)
        if actual != digest:
            tmp.unlink()
            raise AssetsMissing(f"{source / name}.xz unpacks to sha256 {actual}, SHA256SUMS says {digest}")
        tmp.chmod(0o755)
        tmp.replace(target)
        ok.write_text(digest)
    return cache


def find_assets() -> Assets:
    folder = os.environ.get("KUBEBUILDER_ASSETS")
    if folder:
        base = Path(folder)
        missing = [n for n in ("kube-apiserver", "etcd") if not (base / n).exists()]
        if missing:
            raise AssetsMissing(f"KUBEBUILDER_ASSETS={folder} lacks {', '.join(missing)}")
        kcm, kubectl = base / "kube-controller-manager", base / "kubectl"
        return Assets(
            base / "kube-apiserver",
            base / "etcd",
            kcm if kcm.exists() else None,
            kubectl if kubectl.exists() else (Path(p) if (p := shutil.which("kubectl")) else None),
        )
    if not (SHARED_ASSETS / "SHA256SUMS").exists():
        raise AssetsMissing(
            f"no KUBEBUILDER_ASSETS and no {SHARED_ASSETS}: see README 'Control plane assets' "
            "(setup-envtest use <version> -p path, plus kube-controller-manager of the same release)"
        )
    etcd = shutil.which("etcd")
    if not etcd:
        raise AssetsMissing("etcd is not on PATH: run `apt-get install etcd-server` (as root)")
    cache = unpack_shared()
    kcm = cache / "kube-controller-manager"
    return Assets(cache / "kube-apiserver", Path(etcd), kcm if kcm.exists() else None, cache / "kubectl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: SIGKILL when the parent dies, even by SIGKILL (prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


# ---- PKI --------------------------------------------------------------------------------------------
def _write_pki(d: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    later = now + dt.timedelta(days=2)

    def pem_key(key: Any) -> bytes:
        return bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "celigo-testkit-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes.default.svc"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (d / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "ca.key").write_bytes(pem_key(ca_key))
    (d / "serving.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "serving.key").write_bytes(pem_key(key))
    (d / "sa.key").write_bytes(pem_key(sa_key))
    (d / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def kubeconfig_text(url: str, ca_pem: bytes, token: str, user: str = "admin") -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "celigo-testkit",
                    "cluster": {"server": url, "certificate-authority-data": base64.b64encode(ca_pem).decode()},
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "celigo-testkit", "context": {"cluster": "celigo-testkit", "user": user}}],
            "current-context": "celigo-testkit",
        },
        indent=1,
    )


# ---- the audit log ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditRecord:
    """One request from the API server's audit log, in the shape of the emulator's RequestRecord."""

    verb: str
    api_group: str
    version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    user_agent: str
    user: str
    groups: tuple[str, ...]
    path: str
    status_code: int
    audit_id: str

    @property
    def control_plane(self) -> bool:
        return self.user in CONTROL_PLANE_USERS or self.user.startswith(CONTROL_PLANE_USER_PREFIXES)


def _record(ev: dict) -> AuditRecord:
    ref = ev.get("objectRef") or {}
    user = ev.get("user") or {}
    return AuditRecord(
        verb=ev.get("verb", ""),
        api_group=ref.get("apiGroup", ""),
        version=ref.get("apiVersion", ""),
        resource=ref.get("resource", ""),
        subresource=ref.get("subresource", ""),
        namespace=ref.get("namespace", ""),
        name=ref.get("name", ""),
        user_agent=ev.get("userAgent", ""),
        user=user.get("username", ""),
        groups=tuple(user.get("groups") or ()),
        path=ev.get("requestURI", ""),
        status_code=int((ev.get("responseStatus") or {}).get("code") or 0),
        audit_id=ev.get("auditID", ""),
    )


class AuditLog:
    """The audit log file read incrementally; one record per request (the first stage logged for it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._seen: set[str] = set()
        self._records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def records(self) -> list[AuditRecord]:
        with self._lock:
            if self.path.exists():
                with self.path.open("rb") as f:
                    f.seek(self._offset)
                    data = f.read()
                end = data.rfind(b"\n") + 1
                self._offset += end
                for line in data[:end].splitlines():
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    aid = ev.get("auditID", "")
                    if aid in self._seen:
                        continue
                    self._seen.add(aid)
                    self._records.append(_record(ev))
            return list(self._records)

    def settle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:
        """Wait until the file stops growing for `quiet` seconds (requests in flight get logged)."""
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now_size = self.path.stat().st_size if self.path.exists() else 0
            if now_size != size:
                size, since = now_size, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.05)


class ClientRequestLog:
    """`len()`/slicing/iteration over the audit records of clients (not the control plane's own work):
    the real server's counterpart of the emulator's `request_log`."""

    def __init__(self, audit: AuditLog, start: int = 0) -> None:
        self.audit = audit
        self.start = start  # records before this index are someone else's (an earlier world's)

    def _items(self) -> list[AuditRecord]:
        return [r for r in self.audit.records() if not r.control_plane][self.start :]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[AuditRecord]:
        return iter(self._items())

    def __getitem__(self, index: Any) -> Any:
        return self._items()[index]


# ---- the control plane ------------------------------------------------------------------------------
class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) as child processes on loopback ports."""

    def __init__(
        self, assets: Assets | None = None, *, controller_manager: bool = True, crds: Sequence[Path] = ()
    ) -> None:
        """`crds`: CustomResourceDefinition files created before kube-controller-manager starts, so its garbage
        collector watches them from the start instead of from its next discovery sync (every 30 s)."""
        self.assets = assets or find_assets()
        self.crds = tuple(crds)
        self.want_kcm = controller_manager and self.assets.kube_controller_manager is not None
        self.dir: Path | None = None
        self.etcd_dir: Path | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.admin_token = secrets.token_hex(16)
        self.kcm_token = secrets.token_hex(16)
        self.kubelet_token = secrets.token_hex(16)
        self.port = 0
        self.url = ""
        self._lock = threading.Lock()
        self.audit: AuditLog | None = None

    # --- files ---
    @property
    def kubeconfig(self) -> Path:
        assert self.dir is not None
        return self.dir / "kubeconfig"

    @property
    def ca_file(self) -> Path:
        assert self.dir is not None
        return self.dir / "ca.crt"

    @property
    def ca_pem(self) -> bytes:
        return self.ca_file.read_bytes()

    def write_kubeconfig(self, path: str | Path, token: str | None = None, user: str = "admin") -> Path:
        path = Path(path)
        path.write_text(kubeconfig_text(self.url, self.ca_pem, token or self.admin_token, user))
        path.chmod(0o600)
        return path

    def log(self, name: str) -> str:
        assert self.dir is not None
        p = self.dir / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    # --- lifecycle ---
    def start(self, timeout: float = 120.0) -> ControlPlane:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, args: list[str]) -> None:
        assert self.dir is not None
        with (self.dir / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills the whole group
                preexec_fn=_die_with_parent,
            )

    def _start(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.dir = Path(tempfile.mkdtemp(prefix="celigo-k8s-"))
        shm = Path("/dev/shm")
        self.etcd_dir = Path(
            tempfile.mkdtemp(prefix="celigo-etcd-", dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None)
        )
        d = self.dir
        _write_pki(d)
        (d / "tokens.csv").write_text(
            f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
            f"{self.kcm_token},{KCM_USER},{KCM_USER}\n"
            f'{self.kubelet_token},{KUBELET_USER},{KUBELET_USER},"system:masters"\n'
        )
        (d / "audit-policy.yaml").write_text(AUDIT_POLICY)
        etcd_port, etcd_peer, self.port, kcm_port = free_port(), free_port(), free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{etcd_peer}"
        self._spawn(
            "etcd",
            [
                str(self.assets.etcd),
                "--name=default",
                f"--data-dir={self.etcd_dir}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--initial-cluster-state=new",
                "--log-level=warn",
            ],
        )
        self._wait(lambda: httpx.get(f"{etcd_url}/health", timeout=2).status_code == 200, deadline, "etcd")
        self.audit = AuditLog(d / "audit.log")
        self._spawn(
            "kube-apiserver",
            [
                str(self.assets.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={d}",
                f"--tls-cert-file={d / 'serving.crt'}",
                f"--tls-private-key-file={d / 'serving.key'}",
                f"--client-ca-file={d / 'ca.crt'}",
                f"--token-auth-file={d / 'tokens.csv'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={d / 'sa.pub'}",
                f"--service-account-signing-key-file={d / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--authorization-mode=Node,RBAC",
                "--endpoint-reconciler-type=none",
                f"--audit-policy-file={d / 'audit-policy.yaml'}",
                f"--audit-log-path={d / 'audit.log'}",
                "--audit-log-format=json",
                "--audit-log-maxsize=0",
            ],
        )
        self._wait(self._readyz, deadline, "kube-apiserver /readyz")
        self.write_kubeconfig(self.kubeconfig)
        for path in self.crds:
            self._create_crd(path, deadline)
        if self.want_kcm:
            assert self.assets.kube_controller_manager is not None
            kcm_kc = self.write_kubeconfig(d / "kcm.kubeconfig", self.kcm_token, "kcm")
            self._spawn(
                "kube-controller-manager",
                [
                    str(self.assets.kube_controller_manager),
                    f"--kubeconfig={kcm_kc}",
                    f"--authentication-kubeconfig={kcm_kc}",
                    f"--authorization-kubeconfig={kcm_kc}",
                    "--leader-elect=false",
                    "--use-service-account-credentials=true",
                    f"--service-account-private-key-file={d / 'sa.key'}",
                    f"--root-ca-file={d / 'ca.crt'}",
                    f"--cluster-signing-cert-file={d / 'ca.crt'}",
                    f"--cluster-signing-key-file={d / 'ca.key'}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={kcm_port}",
                    # the simulated node sends no heartbeats; nothing should taint it or evict its pods
                    "--controllers=*,-node-lifecycle-controller",
                ],
            )
            self._wait(
                lambda: self.http().get("/api/v1/namespaces/default/serviceaccounts/default").status_code == 200,
                deadline,
                "the default ServiceAccount",
            )

    def _create_crd(self, path: Path, deadline: float) -> None:
        crd = yaml.safe_load(path.read_text())
        self.http().post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd).raise_for_status()
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        versions = [v["name"] for v in crd["spec"]["versions"] if v.get("served")]

        def discoverable() -> bool:
            for version in versions:
                resp = self.http().get(f"/apis/{group}/{version}")
                if resp.status_code != 200 or plural not in {r["name"] for r in resp.json()["resources"]}:
                    return False
            return True

        self._wait(discoverable, deadline, f"CRD {crd['metadata']['name']} in discovery")

    def _readyz(self) -> bool:
        return self.http().get("/readyz").status_code == 200

    def _wait(self, check: Any, deadline: float, what: str) -> None:
        while True:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead[0]} exited ({self.procs[dead[0]].returncode}):\n{self.log(dead[0])[-3000:]}")
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {n} ---\n{self.log(n)[-2000:]}" for n in self.procs)
                raise TimeoutError(f"control plane: timed out waiting for {what}\n{logs}")
            time.sleep(0.2)

    @property
    def running(self) -> bool:
        return bool(self.procs) and all(p.poll() is None for p in self.procs.values())

    def stop(self) -> None:
        with self._lock:
            for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
                proc = self.procs.pop(name, None)
                if proc is None:
                    continue
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait(5)
            for path in (self.dir, self.etcd_dir):
                if path is not None:
                    shutil.rmtree(path, ignore_errors=True)
            self.dir = self.etcd_dir = None

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- clients ---
    def http(self, token: str | None = None, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token or self.admin_token}"},
            verify=ssl.create_default_context(cafile=str(self.ca_file)),
            timeout=timeout,
        )

    def api_client(self, token: str | None = None) -> Any:
        """A `kubernetes` ApiClient (imported lazily: the testkit does not depend on it)."""
        from kubernetes import client as k8s

        cfg = k8s.Configuration()
        cfg.host = self.url
        cfg.ssl_ca_cert = str(self.ca_file)
        cfg.api_key = {"authorization": f"Bearer {token or self.admin_token}"}
        return k8s.ApiClient(cfg)

    def create_token(self, namespace: str, service_account: str, seconds: int = 86400) -> str:
        """A ServiceAccount token from the TokenRequest API (what `kubectl create token` calls)."""
        with self.http() as h:
            resp = h.post(
                f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
                json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": seconds}},
            )
            resp.raise_for_status()
            return str(resp.json()["status"]["token"])

    @property
    def request_log(self) -> ClientRequestLog:
        assert self.audit is not None
        return ClientRequestLog(self.audit)


# ---- one per process ----------------------------------------------------------------------------------
_shared: ControlPlane | None = None
_shared_lock = threading.Lock()
_handlers_installed = False


def stop_shared() -> None:
    """Stop the process's control plane now (a test session's end); shared() starts a new one if asked again."""
    global _shared
    cp, _shared = _shared, None
    if cp is not None:
        cp.stop()


def _on_signal(signum: int, frame: Any) -> None:
    stop_shared()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def shared(crds: Sequence[Path] = ()) -> ControlPlane:
    """The process's control plane, started on first use, stopped at exit, SIGTERM, SIGHUP and Ctrl-C.
    `crds` are created before the controllers start when this call starts it (see ControlPlane)."""
    global _shared, _handlers_installed
    with _shared_lock:
        if _shared is not None and _shared.running:
            return _shared
        if _shared is not None:
            _shared.stop()
        if not _handlers_installed:
            atexit.register(stop_shared)
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGTERM, signal.SIGHUP):
                    if signal.getsignal(sig) in (signal.SIG_DFL, None):
                        signal.signal(sig, _on_signal)
            _handlers_installed = True
        _shared = ControlPlane(crds=crds).start()
        return _shared


def issue_serving_cert(pki: Path, name: str) -> tuple[Path, Path]:
    """A loopback serving certificate signed by the control plane's CA (for a proxy in front of it)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key: Any = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    crt, pem = pki / f"{name}.crt", pki / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return crt, pem
