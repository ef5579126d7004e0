"""KubeEmulator: the emulated API server in its own thread and event loop, as a context manager.

Tests, the demo and the CLI use only this module: start it, point a kubeconfig (or `api_client()`) at
`url` with `token`, read `request_log`, inject `faults`, and drive pod failures via `workload`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import logging
import secrets
import ssl
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from aiohttp import web

from .server import ApiServer
from .types import EmulatorSettings, FaultInjector, RequestRecord, clone
from .workload import WorkloadController

if TYPE_CHECKING:
    import kubernetes.client

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsMaterial:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (PEM)."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def make_tls_material(host: str) -> TlsMaterial:
    """Generate a CA and a serving certificate; kubectl sends bearer tokens only over TLS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-emulator-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    try:
        ip = ipaddress.ip_address(host)
        if str(ip) != "127.0.0.1":
            sans.append(x509.IPAddress(ip))
    except ValueError:
        sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return TlsMaterial(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


class KubeEmulator:
    """An emulated kube-apiserver on loopback, run in a daemon thread.

    Two listeners serve the same API: `url` (plain HTTP, bearer token) for tests and `tls_url` (HTTPS with a
    throwaway CA) that `write_kubeconfig` uses, because kubectl/client-go never send a bearer token over
    plain HTTP (kubernetes/kubectl#744).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        settings: EmulatorSettings | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token or secrets.token_urlsafe(24)
        self.settings = settings or EmulatorSettings()
        self.request_log: list[RequestRecord] = []
        self.faults = FaultInjector()
        self.server = ApiServer(self.settings, self.token, self.faults, self.request_log)
        self.workload = WorkloadController(self.server.core, self.settings, self.call_soon)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.tls = make_tls_material(host)
        self.tls_port = 0
        self._tmpdir = tempfile.TemporaryDirectory(prefix="kube-emulator-")

    def __repr__(self) -> str:
        return f"KubeEmulator(url={self.url if self._ready.is_set() else None!r})"

    # ---- lifecycle --------------------------------------------------------------------------------
    def start(self) -> KubeEmulator:
        """Start serving; returns once the port is bound."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="kube-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError("kube emulator failed to start") from self._error
        return self

    def stop(self) -> None:
        """Close watches and the listener, stop the loop and join the thread."""
        if self._loop is None or self._thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            fut.result(15)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
            self._thread = None
            self._loop = None

    def __enter__(self) -> KubeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        self._runner = web.AppRunner(
            self.server.app(), access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._bound_port(site)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert_file = Path(self._tmpdir.name) / "tls.crt"
        key_file = Path(self._tmpdir.name) / "tls.key"
        cert_file.write_bytes(self.tls.cert_pem)
        key_file.write_bytes(self.tls.key_pem)
        key_file.chmod(0o600)
        ctx.load_cert_chain(str(cert_file), str(key_file))
        tls_site = web.TCPSite(self._runner, self.host, 0, ssl_context=ctx, reuse_address=True)
        await tls_site.start()
        self.tls_port = self._bound_port(tls_site)
        self.server.server_address = f"{self.host}:{self.tls_port}"
        self._tasks.append(asyncio.get_running_loop().create_task(self._gc_loop()))
        self._tasks.append(asyncio.get_running_loop().create_task(self.workload.run()))

    @staticmethod
    def _bound_port(site: web.TCPSite) -> int:
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1])

    async def _gc_loop(self) -> None:
        while True:
            try:
                self.server.core.collect_garbage()
            except Exception:  # a bug must not silently stop garbage collection for the rest of the run
                log.exception("kube emulator: garbage collection pass failed")
                self.server.core.gc_dirty = True
            await asyncio.sleep(self.settings.gc_interval)

    async def _shutdown(self) -> None:
        self.server.store.hub.close_all()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
        if self._runner is not None:
            await self._runner.cleanup()
        self._tmpdir.cleanup()

    # ---- access for tests --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Plain-HTTP endpoint (send `Authorization: Bearer <token>`)."""
        return f"http://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str:
        """HTTPS endpoint, certificate signed by `tls.ca_pem`; what kubeconfigs point at."""
        return f"https://{self.host}:{self.tls_port}"

    def ca_file(self) -> Path:
        """The CA certificate as a file (for clients that want a path)."""
        path = Path(self._tmpdir.name) / "ca.crt"
        if not path.exists():
            path.write_bytes(self.tls.ca_pem)
        return path

    def call_soon(self, fn: Callable[[], T]) -> T:
        """Run fn on the emulator loop (where all state lives) and return its result."""
        if self._loop is None:
            return fn()
        if threading.current_thread() is self._thread:
            return fn()
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return fut.result(30)

    def get_object(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A deep copy of a stored object by group_resource ("secrets", "deployments.apps")."""

        return self.call_soon(lambda: clone(self.server.store.get(resource, namespace, name)))

    def list_objects(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Deep copies of the stored objects of one group_resource."""

        return self.call_soon(lambda: clone(self.server.store.items(resource, namespace)))

    @property
    def resource_version(self) -> int:
        """The current global revision."""
        return self.server.store.resource_version

    def clear_request_log(self) -> None:
        self.call_soon(self.request_log.clear)

    def write_kubeconfig(
        self, path: str | Path, *, namespace: str = "default", context: str = "emulator", tls: bool = True
    ) -> Path:
        """A kubeconfig kubectl, the kubernetes client and kopf accept (file mode 0600: it holds the token).

        With tls (default) it points at `tls_url` and embeds the CA; kubectl needs that to send the token.
        """
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        cluster: dict[str, Any] = {"server": self.url}
        if tls:
            cluster = {
                "server": self.tls_url,
                "certificate-authority-data": base64.b64encode(self.tls.ca_pem).decode(),
            }
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": self.token}}],
            "contexts": [
                {"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}
            ],
            "current-context": context,
            "preferences": {},
        }
        p.write_text(yaml.safe_dump(config, sort_keys=False))
        p.chmod(0o600)
        return p

    def api_client(self) -> kubernetes.client.ApiClient:
        """A `kubernetes` ApiClient configured for this emulator."""
        import kubernetes.client

        cfg = kubernetes.client.Configuration()
        cfg.host = self.url
        cfg.api_key = {"authorization": self.token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
        return kubernetes.client.ApiClient(cfg)
