"""Watch support: the change history kept for resuming, subscriptions, and the HTTP watch stream.

A watch subscribes and reads its backlog in one synchronous step on the emulator loop, so there is
neither a gap nor a duplicate between replayed history and live events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from .store import Store, TooOld
from .types import ChangeEvent


@dataclass
class WatchSpec:
    """Everything one watch request needs, prepared by the server."""

    resource: str
    match: Callable[[dict], bool]  # namespace + label/field selectors
    render: Callable[[dict], dict]  # the object as sent (apiVersion/kind of the requested version, Table)
    bookmark: Callable[[int], dict]  # BOOKMARK object for a revision
    since: int | None  # None: synthetic ADDED for the current state first
    timeout: float
    bookmarks: bool
    bookmark_interval: float
    drop: bool = False  # fault: close the connection after the initial events
    expire: bool = False  # fault: answer with an Expired ERROR event
    initial_events_end: bool = False  # sendInitialEvents=true: BOOKMARK with k8s.io/initial-events-end


def expired_status(message: str) -> dict:
    """The Status a real server puts into the ERROR event of an expired watch."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Expired",
        "code": 410,
    }


def translate(ev: ChangeEvent, match: Callable[[dict], bool]) -> str | None:
    """Event type this watcher sees given its selectors (entering → ADDED, leaving → DELETED)."""
    if ev.type == "ADDED":
        return "ADDED" if match(ev.obj) else None
    if ev.type == "DELETED":
        return "DELETED" if match(ev.old or ev.obj) else None
    now = match(ev.obj)
    before = ev.old is not None and match(ev.old)
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    if before:
        return "DELETED"
    return None


def _line(kind: str, obj: dict) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


async def serve_watch(request: web.Request, store: Store, spec: WatchSpec) -> web.StreamResponse:
    """Stream watch events as JSON lines until timeout, client disconnect or shutdown."""
    hub = store.hub
    q = hub.subscribe(spec.resource)
    resp: web.StreamResponse | None = None
    try:
        initial: list[bytes] = []
        expired: str | None = "too old resource version: 0 (0)" if spec.expire else None
        if spec.since is None:
            initial = [_line("ADDED", spec.render(o)) for o in store.items(spec.resource) if spec.match(o)]
        else:
            try:
                backlog = hub.since(spec.resource, spec.since)
            except TooOld as exc:
                expired = str(exc)
                backlog = []
            for past in backlog:
                kind = translate(past, spec.match)
                if kind:
                    initial.append(_line(kind, spec.render(past.obj)))
        if spec.expire:
            expired = f"too old resource version: {spec.since or 0} ({store.resource_version})"
        sent_rv = store.resource_version
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        if expired is not None:
            await resp.write(_line("ERROR", expired_status(expired)))
            await resp.write_eof()
            return resp
        for chunk in initial:
            await resp.write(chunk)
        if spec.initial_events_end:
            mark = spec.bookmark(sent_rv)
            mark["metadata"]["annotations"] = {"k8s.io/initial-events-end": "true"}
            await resp.write(_line("BOOKMARK", mark))
        if spec.drop:
            if request.transport is not None:
                request.transport.abort()
            return resp
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + spec.timeout
        final_bookmark = deadline - min(2.0, spec.timeout / 4)
        next_bookmark = min(start + spec.bookmark_interval, final_bookmark)
        final_done = False
        while True:
            now = loop.time()
            if now >= deadline:
                break
            transport = request.transport
            if transport is None or transport.is_closing():
                return resp  # the client went away; aiohttp does not cancel the handler for us
            wait_until = min(deadline, now + 1.0)
            if spec.bookmarks:
                wait_until = min(wait_until, next_bookmark if not final_done else wait_until)
            ev: ChangeEvent | None
            getter = asyncio.ensure_future(q.get())
            try:
                done, _ = await asyncio.wait({getter}, timeout=max(0.0, wait_until - now))
            finally:
                getter.cancel()
            if getter in done:
                ev = getter.result()
            else:
                if spec.bookmarks and loop.time() >= next_bookmark and not final_done:
                    if q.empty() and store.resource_version > sent_rv:
                        sent_rv = store.resource_version
                        await resp.write(_line("BOOKMARK", spec.bookmark(sent_rv)))
                    if next_bookmark >= final_bookmark:
                        final_done = True
                    next_bookmark = min(loop.time() + spec.bookmark_interval, final_bookmark)
                continue
            if ev is None:
                break
            kind = translate(ev, spec.match)
            if kind:
                await resp.write(_line(kind, spec.render(ev.obj)))
                sent_rv = ev.rv
        with contextlib.suppress(ConnectionError, RuntimeError):
            await resp.write_eof()
        return resp
    except ConnectionError:
        # the client went away mid-write (aiohttp's ClientConnectionResetError): the watch simply ends
        if resp is None:
            raise
        return resp
    finally:
        hub.unsubscribe(spec.resource, q)
