"""ConductorOne REST API client: connector sync status, credential rotate/get/revoke, credential check."""

from celigo_operator.conductorone.client import ConductorOneClient
from celigo_operator.conductorone.errors import (
    AuthenticationFailed,
    ConductorOneError,
    Forbidden,
    MalformedResponse,
    NotFound,
    RateLimited,
    RotateOutcomeUnknown,
    Timeout,
    Unavailable,
)
from celigo_operator.conductorone.models import ConnectorSyncStatus, Credential, RotatedCredential, SyncStatus

__all__ = [
    "AuthenticationFailed",
    "ConductorOneClient",
    "ConductorOneError",
    "ConnectorSyncStatus",
    "Credential",
    "Forbidden",
    "MalformedResponse",
    "NotFound",
    "RateLimited",
    "RotateOutcomeUnknown",
    "RotatedCredential",
    "SyncStatus",
    "Timeout",
    "Unavailable",
]
