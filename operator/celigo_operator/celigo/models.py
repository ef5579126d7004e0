"""Typed views of Celigo's JSON (pydantic v2), named in Python style with Celigo's names as aliases.

Models are lenient where Celigo is loose (missing or null fields get empty defaults; unknown access levels
are kept as strings, not rejected) and strict where we rely on shape (ids are required strings). They are
read models only: a full-replace PUT must be built from the raw JSON a GET returned (as
``CeligoClient.revoke_access_token`` does), never from a model, or the fields it does not model are cleared.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ACCESS_LEVELS",
    "INTEGRATION_ACCESS_LEVELS",
    "ROLES",
    "AShare",
    "AccessLevel",
    "AccessToken",
    "Integration",
    "IntegrationAccess",
    "Inventory",
    "RoleCounts",
    "SharedWithUser",
    "TokenInfo",
    "UserSummary",
]

AccessLevel = Literal["monitor", "manage", "administrator"]
ACCESS_LEVELS: tuple[str, ...] = ("monitor", "manage", "administrator")
INTEGRATION_ACCESS_LEVELS: tuple[str, ...] = ("monitor", "manage")
#: There is no roles endpoint: the connector's roles are the three account access levels.
ROLES: tuple[str, ...] = ("administrator", "manage", "monitor")

class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class TokenInfo(_Model):
    """``GET /v1/tokenInfo``: whose token it is and its scope (``"*"`` = full access). No expiry in it."""

    user_id: str = Field(alias="_userId")
    scope: str | list[str] = "*"

    @property
    def full_access(self) -> bool:
        return self.scope == "*"


class SharedWithUser(_Model):
    """The person behind a share."""

    id: str = Field(alias="_id")
    email: str | None = None
    name: str | None = None
    last_sign_in: datetime | None = Field(default=None, alias="lastSignIn")
    allowed_to_reset_mfa: bool | None = Field(default=None, alias="allowedToResetMFA")
    account_sso_linked: str | None = Field(default=None, alias="accountSSOLinked")


class IntegrationAccess(_Model):
    """One ``integrationAccessLevel`` entry: ``monitor`` or ``manage`` on one integration."""

    integration_id: str = Field(alias="_integrationId")
    access_level: str = Field(alias="accessLevel")


class AShare(_Model):
    """An account share (a user of the account). ``id`` is the share's id, not the person's."""

    id: str = Field(alias="_id")
    accepted: bool = False
    disabled: bool = False
    access_level: str | None = Field(default=None, alias="accessLevel")
    integration_access_level: list[IntegrationAccess] = Field(default_factory=list,
                                                              alias="integrationAccessLevel")
    account_sso_required: bool = Field(default=False, alias="accountSSORequired")
    account_mfa_required: bool = Field(default=False, alias="accountMFARequired")
    last_sign_in: datetime | None = Field(default=None, alias="lastSignIn")
    created_at: datetime | None = Field(default=None, alias="createdAt")
    last_modified: datetime | None = Field(default=None, alias="lastModified")
    shared_with_user: SharedWithUser | None = Field(default=None, alias="sharedWithUser")

    @field_validator("integration_access_level", mode="before")
    @classmethod
    def _null_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("accepted", "disabled", "account_sso_required", "account_mfa_required", mode="before")
    @classmethod
    def _null_bool(cls, value: Any) -> Any:
        return False if value is None else value

    @property
    def integration_only(self) -> bool:
        """No account-level access: the user only sees the integrations listed in integrationAccessLevel."""
        return self.access_level is None

    @property
    def email(self) -> str | None:
        return self.shared_with_user.email if self.shared_with_user else None


class UserSummary(_Model):
    """Just what the inventory counts. Validating 50 000 full AShare models (nested users, timestamps)
    costs more than the HTTP; this keeps the inventory close to the cost of parsing the JSON."""

    id: str = Field(alias="_id")
    accepted: bool = False
    disabled: bool = False
    access_level: str | None = Field(default=None, alias="accessLevel")

    @field_validator("accepted", "disabled", mode="before")
    @classmethod
    def _null_bool(cls, value: Any) -> Any:
        return False if value is None else value


class _Countable(Protocol):
    access_level: str | None
    disabled: bool
    accepted: bool


class Integration(_Model):
    """An integration (a folder of flows); SmartConnector extras are kept as extra fields."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    id: str = Field(alias="_id")
    name: str | None = None
    description: str | None = None
    readme: str | None = None
    last_modified: datetime | None = Field(default=None, alias="lastModified")
    created_at: datetime | None = Field(default=None, alias="createdAt")


class RoleCounts(_Model):
    """Users per account access level (= per connector role)."""

    administrator: int = 0
    manage: int = 0
    monitor: int = 0


class Inventory(_Model):
    """What the operator reports in status: ``model_dump(by_alias=True)`` gives the status shape.

    ``users`` counts every share (pending and disabled included; the owner is never listed);
    ``integration_only_users`` those without an account access level; ``roles`` counts by access level, so
    ``sum(roles) + integration_only_users == users`` when Celigo uses only the three known levels.
    """

    users: int
    integration_only_users: int = Field(alias="integrationOnlyUsers")
    integrations: int
    roles: RoleCounts
    disabled_users: int = Field(default=0, alias="disabledUsers")
    pending_users: int = Field(default=0, alias="pendingUsers")

    @classmethod
    def from_data(cls, users: Iterable[_Countable], integrations: Iterable[object]) -> Inventory:
        counts = dict.fromkeys(ROLES, 0)
        total = integration_only = disabled = pending = 0
        for user in users:
            total += 1
            if user.access_level is None:
                integration_only += 1
            elif user.access_level in counts:
                counts[user.access_level] += 1
            disabled += user.disabled
            pending += not user.accepted
        return cls(users=total, integrationOnlyUsers=integration_only,
                   integrations=sum(1 for _ in integrations), roles=RoleCounts(**counts),
                   disabledUsers=disabled, pendingUsers=pending)


class AccessToken(_Model):
    """An ``accesstokens`` record. ``token`` is masked in reads; a real value (in a create answer or from
    ``display``) is returned by the client as a plain string, never inside a model. The scope is
    ``fullAccess`` or Celigo's lists (``_connectionIds``, ``_exportIds``, ...), kept as extra fields."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    id: str = Field(alias="_id")
    name: str | None = None
    description: str | None = None
    token: str | None = Field(default=None, repr=False)
    full_access: bool | None = Field(default=None, alias="fullAccess")
    revoked: bool = False
    auto_purge_at: datetime | None = Field(default=None, alias="autoPurgeAt")
    created_at: datetime | None = Field(default=None, alias="createdAt")
    last_modified: datetime | None = Field(default=None, alias="lastModified")
