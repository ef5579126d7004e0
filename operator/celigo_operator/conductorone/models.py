"""Typed views of ConductorOne API answers: only the fields the operator uses, parsed defensively."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from celigo_operator.conductorone.errors import MalformedResponse

__all__ = ["ConnectorSyncStatus", "Credential", "RotatedCredential", "SyncStatus", "parse_timestamp"]


class SyncStatus(enum.StrEnum):
    """The connector's sync state. UNKNOWN stands for any value this client does not know yet."""

    UNSPECIFIED = "SYNC_STATUS_UNSPECIFIED"
    RUNNING = "SYNC_STATUS_RUNNING"
    DONE = "SYNC_STATUS_DONE"
    ERROR = "SYNC_STATUS_ERROR"
    DISABLED = "SYNC_STATUS_DISABLED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: object) -> SyncStatus:
        """Map the API's enum string; a missing value is UNSPECIFIED, a new one UNKNOWN (never a crash)."""
        if value is None or value == "":
            return cls.UNSPECIFIED
        for member in cls:
            if member.value == value and member is not cls.UNKNOWN:
                return member
        return cls.UNKNOWN


def parse_timestamp(value: object, what: str = "timestamp") -> datetime | None:
    """Parse an RFC 3339 timestamp (protobuf JSON may carry nanoseconds); None/"" stays None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedResponse(f"{what} is not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedResponse(f"{what} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedResponse(f"field {key!r} is not a string")
    return value


@dataclass(frozen=True)
class ConnectorSyncStatus:
    """``connector.status``: did the last sync work, and when did it start/finish/update."""

    status: SyncStatus
    started_at: datetime | None = None
    completed_at: datetime | None = None
    last_error: str | None = None
    updated_at: datetime | None = None
    raw_status: str | None = None

    @classmethod
    def from_connector(cls, connector: dict[str, Any]) -> ConnectorSyncStatus:
        status = connector.get("status")
        if status is None:
            return cls(status=SyncStatus.UNSPECIFIED)
        if not isinstance(status, dict):
            raise MalformedResponse("connector.status is not an object")
        raw = status.get("status")
        return cls(
            status=SyncStatus.parse(raw),
            started_at=parse_timestamp(status.get("startedAt"), "status.startedAt"),
            completed_at=parse_timestamp(status.get("completedAt"), "status.completedAt"),
            last_error=_opt_str(status, "lastError"),
            updated_at=parse_timestamp(status.get("updatedAt"), "status.updatedAt"),
            raw_status=raw if isinstance(raw, str) else None,
        )


@dataclass(frozen=True)
class Credential:
    """A connector credential as ConductorOne shows it: its client id, never its secret."""

    id: str
    client_id: str | None = None
    app_id: str | None = None
    connector_id: str | None = None
    display_name: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    deleted_at: datetime | None = None

    @classmethod
    def from_json(cls, obj: object) -> Credential:
        if not isinstance(obj, dict):
            raise MalformedResponse("credential is not an object")
        cred_id = obj.get("id")
        if not isinstance(cred_id, str) or not cred_id:
            raise MalformedResponse("credential has no id")
        return cls(
            id=cred_id,
            client_id=_opt_str(obj, "clientId"),
            app_id=_opt_str(obj, "appId"),
            connector_id=_opt_str(obj, "connectorId"),
            display_name=_opt_str(obj, "displayName"),
            created_at=parse_timestamp(obj.get("createdAt"), "credential.createdAt"),
            expires_at=parse_timestamp(obj.get("expiresTime"), "credential.expiresTime"),
            last_used_at=parse_timestamp(obj.get("lastUsedAt"), "credential.lastUsedAt"),
            deleted_at=parse_timestamp(obj.get("deletedAt"), "credential.deletedAt"),
        )


@dataclass(frozen=True)
class RotatedCredential:
    """The answer to a rotate: the new credential and its client secret, which ConductorOne shows once.

    Persist ``client_secret`` before doing anything else. It is excluded from repr and equality.
    """

    credential: Credential
    client_secret: str = field(repr=False, compare=False)

    @property
    def client_id(self) -> str | None:
        return self.credential.client_id
