"""What one reconcile pass hands the status writer: the typed status it arrived at and the Events it saw.

The status is `api.CeligoConnectorStatus`, the same pydantic model the CRD's status schema is generated
from, so a field the code writes that the schema lacks (and the API server would prune) fails validation
here instead of vanishing silently. Plain data and pure helpers: no I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from celigo_operator import api
from celigo_operator.conditions import Cond

Status = api.CeligoConnectorStatus


@dataclass
class Event:
    """An Event to post: type Normal|Warning, a reason, a message without secrets."""

    type: str
    reason: str
    message: str


@dataclass
class Outcome:
    """What one reconcile saw and did."""

    status: Status
    events: list[Event] = field(default_factory=list)
    deployment: dict[str, Any] | None = None  # as the API server returned it during this reconcile
    upgrade: Cond | None = None  # OperatorUpgrade, while a new operator release waits to roll here


#: "Persist this rotation journal before continuing": handed to the rotation step by the status writer,
#: the only module that writes status. It returns once the journal is stored (or raises).
Checkpoint = Callable[[Mapping[str, Any]], Awaitable[None]]


def dump(model: BaseModel) -> dict[str, Any]:
    """A status model as the API stores it: camelCase keys, no None values."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def status_model(raw: Mapping[str, Any]) -> Status:
    """The typed status of a dict (camelCase keys, None values dropped). Raises ValidationError on a field the
    schema does not have: the code and the CRD cannot drift apart."""
    return Status.model_validate(strip_none(raw))


def rotation_model(raw: Mapping[str, Any]) -> api.RotationStatus:
    return api.RotationStatus.model_validate(strip_none(raw))


def read_status(raw: Mapping[str, Any] | None) -> Status:
    """The status as stored (the API server pruned it to the schema). A field the model refuses (say, a value
    an older release could store before its field became an enum) is left out, not the whole status."""
    data = strip_none(dict(raw or {}))
    for _ in range(50):
        try:
            return status_model(data)
        except ValidationError as exc:  # one at a time: dropping a list item shifts the others' places
            _drop(data, [str(p) for p in exc.errors()[0]["loc"]])
    return Status.model_validate({})


def _drop(data: dict[str, Any], loc: list[str]) -> None:
    """Remove the value at `loc`; when it is missing (a required field), the object that lacks it."""
    path: list[tuple[Any, Any]] = []
    node: Any = data
    for key in loc:
        if isinstance(node, dict) and key in node:
            path.append((node, key))
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            path.append((node, int(key)))
            node = node[int(key)]
        else:
            break
    if path:
        container, key = path[-1]
        container.pop(key)


def strip_none(value: Any) -> Any:
    """The value without None members, recursively (what the API server stores of a merge patch)."""
    if isinstance(value, Mapping):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_none(v) for v in value]
    return value


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`: changed keys, null for removed ones,
    lists replaced whole. Empty when nothing changed."""
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        if old[key] is not None:
            patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            inner = merge_patch(before, value)
            if inner:
                patch[key] = inner
        elif value != before:
            patch[key] = value
    return patch
