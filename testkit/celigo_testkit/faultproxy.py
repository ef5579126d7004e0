"""A fault-injecting HTTPS proxy in front of the real kube-apiserver: the real server's counterpart of the
emulator's fault injection. Point a client at `proxy.url` (or `proxy.write_kubeconfig()`) and `inject()`
faults: connections dropped before an answer, 500/429 answers (with Retry-After), delays, watch
streams cut after a while, and watches answered as expired (410 in an ERROR event). Requests that match no fault pass through unchanged, streams included."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from celigo_testkit.controlplane import ControlPlane, free_port, issue_serving_cert, kubeconfig_text
from celigo_testkit.kube.watch import expired_status

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "content-length", "content-encoding", "host",
    "accept-encoding",  # plain bodies upstream, so a watch is cut between events, not inside a gzip block
}

SESSION = web.AppKey("session", aiohttp.ClientSession)


@dataclass
class ProxyFault:
    """What to do to matching requests (None matches anything); `times` None means until cleared."""

    method: str | None = None
    path_contains: str | None = None
    watch: bool | None = None  # only watch requests (True) or only the others (False)
    status: int | None = None  # answer with this status instead of forwarding (e.g. 500, 429)
    retry_after: int | None = None
    delay: float = 0.0  # seconds before forwarding (or answering)
    drop: bool = False  # close the connection without an answer
    cut_after: float | None = None  # watch streams: close after this many seconds
    expire: bool = False  # watch requests: one ERROR event (410 Expired), as for a too old resourceVersion
    times: int | None = 1
    hits: int = field(default=0, compare=False)

    def matches(self, method: str, path: str, is_watch: bool) -> bool:
        return (
            (self.method is None or self.method.upper() == method)
            and (self.path_contains is None or self.path_contains in path)
            and (self.watch is None or self.watch == is_watch)
        )


class FaultProxy:
    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        self.port = 0
        self.faults: list[ProxyFault] = []
        self.log: list[tuple[str, str, int]] = []  # (method, path, status answered or -1 for a drop/cut)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: str | Path, token: str | None = None) -> Path:
        path = Path(path)
        path.write_text(kubeconfig_text(self.url, self.cp.ca_pem, token or self.cp.admin_token))
        return path

    def inject(self, fault: ProxyFault) -> ProxyFault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take(self, method: str, path: str, is_watch: bool) -> ProxyFault | None:
        with self._lock:
            for f in self.faults:
                if f.matches(method, path, is_watch) and (f.times is None or f.hits < f.times):
                    f.hits += 1
                    return f
        return None

    # ---- lifecycle ----
    def start(self) -> FaultProxy:
        assert self.cp.dir is not None
        crt, key = issue_serving_cert(self.cp.dir, f"proxy-{id(self)}")
        server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ssl.load_cert_chain(str(crt), str(key))
        self.port = free_port()
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            upstream_ssl = ssl.create_default_context(cafile=str(self.cp.ca_file))
            app = web.Application()

            async def on_startup(app: web.Application) -> None:
                app[SESSION] = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=upstream_ssl), auto_decompress=False,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                )

            async def on_cleanup(app: web.Application) -> None:
                await app[SESSION].close()

            app.on_startup.append(on_startup)
            app.on_cleanup.append(on_cleanup)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=server_ssl).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the proxy ----
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs
        is_watch = request.query.get("watch") in ("1", "true") or "/watch/" in request.path
        fault = self._take(request.method, path, is_watch)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.drop:
            self.log.append((request.method, path, -1))
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("fault proxy: dropped")
        if fault is not None and fault.status:
            self.log.append((request.method, path, fault.status))
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            reason = "TooManyRequests" if fault.status == 429 else "InternalError"
            status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": f"injected by the fault proxy ({fault.status})", "reason": reason, "code": fault.status}
            return web.Response(status=fault.status, text=json.dumps(status), content_type="application/json",
                                headers=headers)
        if fault is not None and fault.expire and is_watch:
            self.log.append((request.method, path, 200))
            since = request.query.get("resourceVersion") or "0"
            event = {"type": "ERROR", "object": expired_status(f"too old resource version: {since} ({since})")}
            return web.Response(status=200, text=json.dumps(event) + "\n", content_type="application/json")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        session = request.app[SESSION]
        # a request without Content-Type stays without one (aiohttp would add application/octet-stream,
        # which the API server refuses with 415; the kubernetes client sends none on some writes)
        skip = () if "Content-Type" in request.headers else ("Content-Type",)
        async with session.request(
            request.method, self.cp.url + path, headers=headers, data=body or None, skip_auto_headers=skip
        ) as up:
            resp = web.StreamResponse(status=up.status, reason=up.reason)
            for k, v in up.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    resp.headers[k] = v
            await resp.prepare(request)
            deadline = time.monotonic() + fault.cut_after if fault is not None and fault.cut_after else None
            while True:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    chunk = await asyncio.wait_for(up.content.readany(), timeout)
                except TimeoutError:
                    self.log.append((request.method, path, -1))
                    if request.transport is not None:
                        request.transport.abort()  # the watch is cut mid-stream, no final chunk
                    raise ConnectionResetError("fault proxy: watch cut") from None
                if not chunk:
                    break
                await resp.write(chunk)
            self.log.append((request.method, path, up.status))
            await resp.write_eof()
            return resp


