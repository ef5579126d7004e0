"""The two credential providers the generic rotation flow runs over: ConductorOne (connector credentials,
through the ConductorOne API) and Celigo (API tokens, through Celigo's accesstokens API).

Each one knows four calls, and only the calls: `mint` a new credential, read its value once it exists
(`reveal`), `verify` a stored value, `is_live` / `revoke` an old one (and `expires_at` for expiry warnings).
Errors come back as `Wait` (back off and retry the step), `Refused` (the new credential does not work),
`Unusable` (made, but its value cannot be had: revoke it) or `Unsupported` (the API will not do this).
Where journal entries go and when they are persisted is the state machine's business, not theirs.

Mint is not idempotent: the clients never retry it blindly (ConductorOne's rotate is sent once; Celigo's
create is retried only on 429). A lost answer is the machine's to handle (journal first, then recover).
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from celigo_operator import celigo, manifests
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.clients import Clients
from celigo_operator.conductorone import ConductorOneClient, errors
from celigo_operator.config import RotationSettings
from celigo_operator.health import HealthChecker
from celigo_operator.kube import Kube
from celigo_operator.rotation.journal import Context, Flow, Wait, decode
from celigo_operator.sources import CredentialProblem, read_keys

TOKEN_NAME_PREFIX = "celigo-operator"
#: spec.rotation.celigo.autoPurge -> seconds until Celigo purges a token the operator creates (None: never).
AUTO_PURGE_SECONDS: dict[str, int | None] = {
    "never": None, "1h": 3600, "4h": 4 * 3600, "1d": 86400, "4d": 4 * 86400, "10d": 10 * 86400,
    "30d": 30 * 86400,
}


class Refused(Exception):
    """The provider answered that the new credential does not work."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Unusable(Exception):
    """A credential was made but its value cannot be had; `unsupported` when the API refuses to show it."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unsupported = unsupported


class Unsupported(Exception):
    """The API refuses rotation to this caller (403/404): the flow stops until it is turned off and on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AnswerLost(Exception):
    """A mint whose answer was lost: it may have made a credential nobody can see again (`message` says so);
    `wait` is the backoff before the flow mints again under a new rotation id."""

    def __init__(self, message: str, wait: Wait) -> None:
        super().__init__(message)
        self.message = message
        self.wait = wait


@dataclass
class Minted:
    id: str
    values: dict[str, str] | None  # None: not in the answer, `reveal` reads it
    expires_at: datetime | None


class Provider(ABC):
    """What both providers share; the subclasses are the calls."""

    flow: Flow
    label: str  # "ConductorOne credential" / "Celigo token"
    noun: str  # "credential" / "token"
    lost_answer_orphans: bool  # a mint whose answer was lost may leave a credential nobody can find
    refused: str  # the journal's lastMessage when the new credential is refused for good
    kept: str  # the Event when the replaced credential came from the source Secret and has no id

    def __init__(self, kube: Kube, clients: Clients, health: HealthChecker, settings: RotationSettings) -> None:
        self.kube = kube
        self.clients = clients
        self.health = health
        self.settings = settings

    @abstractmethod
    def schedule(self, spec: CeligoConnectorSpec) -> str | None:
        ...

    @abstractmethod
    def initial_id(self, spec: CeligoConnectorSpec) -> str | None:
        ...

    async def find_lost(self, ctx: Context, rot: dict[str, Any], rotation_id: str) -> dict[str, Any] | None:
        """A credential of this rotation made by a process that died before journaling it, if findable."""
        return None

    @abstractmethod
    async def mint(self, ctx: Context, rot: dict[str, Any], rotation_id: str) -> Minted:
        ...

    @abstractmethod
    async def reveal(self, ctx: Context, rot: dict[str, Any], credential_id: str) -> dict[str, str]:
        ...

    @abstractmethod
    async def verify(self, ctx: Context, values: dict[str, str]) -> None:
        ...

    @abstractmethod
    async def is_live(self, ctx: Context, rot: dict[str, Any], credential_id: str) -> bool:
        ...

    @abstractmethod
    async def revoke(self, ctx: Context, rot: dict[str, Any], credential_id: str, what: str) -> None:
        ...

    @abstractmethod
    async def expires_at(self, ctx: Context, rot: dict[str, Any], credential_id: str) -> datetime | None:
        ...


class ConductorOne(Provider):
    flow = Flow.CONDUCTORONE
    label = "ConductorOne credential"
    noun = "credential"
    lost_answer_orphans = True
    refused = "ConductorOne refused the new credential; it was revoked"
    kept = (
        "The ConductorOne credential from the source Secret was not created by the operator and "
        "spec.rotation.conductorOne.initialCredentialId is empty: revoke it in ConductorOne yourself."
    )

    def schedule(self, spec: CeligoConnectorSpec) -> str | None:
        return spec.rotation.conductor_one.schedule

    def initial_id(self, spec: CeligoConnectorSpec) -> str | None:
        return spec.rotation.conductor_one.initial_credential_id

    @staticmethod
    def wait(exc: errors.ConductorOneError, what: str) -> Wait:
        return Wait(f"ConductorOne {what} failed: {exc}.", backoff=True, retry_after=exc.retry_after)

    async def api_client(self, ctx: Context) -> ConductorOneClient:
        """A client with the API credentials of spec.conductorOne (never the connector's own)."""
        c1 = ctx.spec.conductor_one
        if c1 is None:
            raise Wait("spec.conductorOne (app, connector, API credentials) is needed to rotate.", backoff=True)
        ref = c1.credentials_secret_ref
        secret = await self.kube.get_secret(ctx.owner.namespace, ref.name)
        try:
            client_id, client_secret = read_keys(
                secret, ctx.owner.namespace, ref.name, [ref.keys.client_id, ref.keys.client_secret]
            )
            return self.clients.conductorone(client_id, client_secret, rotation_retries=self.settings.api_retries)
        except CredentialProblem as exc:
            raise Wait(f"ConductorOne API credentials: {exc.message}", backoff=True) from None
        except ValueError as exc:
            raise Wait(f"ConductorOne API credentials in Secret {ref.name}: {exc}", backoff=True) from None

    async def mint(self, ctx: Context, rot: dict[str, Any], rotation_id: str) -> Minted:
        c1 = ctx.spec.conductor_one
        assert c1 is not None
        client = await self.api_client(ctx)
        try:
            rotated = await client.rotate_credential(c1.app_id, c1.connector_id)
        except errors.RotateOutcomeUnknown as exc:
            raise AnswerLost(
                f"ConductorOne gave no usable answer to rotation {rotation_id} ({exc.status or 'no status'}); a "
                "credential may have been created that nobody can use. The connector keeps its current one.",
                self.wait(exc, "rotate"),
            ) from None
        except errors.ConductorOneError as exc:
            raise self.wait(exc, "rotate") from None
        credential = rotated.credential
        values = (
            {manifests.ENV_CLIENT_ID: credential.client_id, manifests.ENV_CLIENT_SECRET: rotated.client_secret}
            if credential.client_id
            else None
        )
        return Minted(credential.id, values, credential.expires_at)

    async def reveal(self, ctx: Context, rot: dict[str, Any], credential_id: str) -> dict[str, str]:
        # ConductorOne shows a client secret once, in the rotate answer: there is nothing to read again.
        raise Unusable("ConductorOne's rotate answer has no clientId; the new credential was revoked.")

    async def verify(self, ctx: Context, values: dict[str, str]) -> None:
        client = self.clients.conductorone(
            values[manifests.ENV_CLIENT_ID],
            values[manifests.ENV_CLIENT_SECRET],
            rotation_retries=self.settings.api_retries,
        )
        try:
            await client.verify()
        except errors.AuthenticationFailed as exc:
            raise Refused(self.wait(exc, "verifying the new credential").message, exc.retry_after) from None
        except errors.ConductorOneError as exc:
            raise self.wait(exc, "verifying the new credential") from None

    async def is_live(self, ctx: Context, rot: dict[str, Any], credential_id: str) -> bool:
        c1 = ctx.spec.conductor_one
        assert c1 is not None
        client = await self.api_client(ctx)
        try:
            old = await client.get_credential(c1.app_id, c1.connector_id, credential_id)
        except errors.NotFound:
            return False
        except errors.ConductorOneError as exc:
            raise self.wait(exc, "reading the previous credential") from None
        return old.deleted_at is None  # else the rotate itself revoked it, or someone did

    async def revoke(self, ctx: Context, rot: dict[str, Any], credential_id: str, what: str) -> None:
        c1 = ctx.spec.conductor_one
        if c1 is None:
            raise Wait(f"spec.conductorOne is needed to revoke {what}.", backoff=True)
        client = await self.api_client(ctx)
        try:
            await client.revoke_credential(c1.app_id, c1.connector_id, credential_id)
        except errors.NotFound:
            pass
        except errors.ConductorOneError as exc:
            raise self.wait(exc, f"revoking {what}") from None

    async def expires_at(self, ctx: Context, rot: dict[str, Any], credential_id: str) -> datetime | None:
        c1 = ctx.spec.conductor_one
        assert c1 is not None
        try:
            credential = await (await self.api_client(ctx)).get_credential(c1.app_id, c1.connector_id, credential_id)
        except errors.ConductorOneError as exc:
            raise self.wait(exc, "reading the credential's expiry") from None
        return credential.expires_at


class Celigo(Provider):
    flow = Flow.CELIGO
    label = "Celigo token"
    noun = "token"
    lost_answer_orphans = False  # a token of this rotation is found again by its name
    refused = "Celigo refused the new token; it was revoked, the old one stays"
    kept = "The Celigo token from the source Secret has no spec.rotation.celigo.tokenId: revoke it in Celigo yourself."

    def schedule(self, spec: CeligoConnectorSpec) -> str | None:
        return spec.rotation.celigo.schedule

    def initial_id(self, spec: CeligoConnectorSpec) -> str | None:
        return spec.rotation.celigo.token_id

    @staticmethod
    def wait(exc: celigo.CeligoError, what: str) -> Wait:
        return Wait(f"Celigo {what} failed: {exc}.", backoff=True, retry_after=getattr(exc, "retry_after", None))

    async def current_token(self, ctx: Context, rot: dict[str, Any]) -> str:
        """The token the pods use now: the operator's, else the source Secret's."""
        current = ((rot.get("celigo") or {}).get("current") or {}).get("secretName")
        if current and ctx.spec.rotation.celigo.enabled:
            token = decode(await self.kube.get_secret(ctx.owner.namespace, current), manifests.ENV_ACCESS_TOKEN)
        else:
            ref = ctx.spec.credentials_secret_ref
            source = await self.kube.get_secret(ctx.owner.namespace, ref.name)
            try:
                token = read_keys(source, ctx.owner.namespace, ref.name, [ref.keys.celigo_access_token])[0]
            except CredentialProblem as exc:
                raise Wait(exc.message, backoff=True) from None
        if not token:
            raise Wait("the Celigo token in use cannot be read", backoff=True)
        return token

    async def client(self, ctx: Context, rot: dict[str, Any]) -> celigo.CeligoClient:
        token = await self.current_token(ctx, rot)
        return self.clients.celigo(token, ctx.spec.region, rotation_retries=self.settings.api_retries)

    @staticmethod
    def token_name(ctx: Context, rotation_id: str) -> str:
        return f"{TOKEN_NAME_PREFIX} {ctx.owner.namespace}/{ctx.owner.name} {rotation_id}"

    @staticmethod
    def auto_purge_at(spec: CeligoConnectorSpec) -> datetime | None:
        """spec.rotation.celigo.autoPurge (the UI's choices) as Celigo's autoPurgeAt; "never" = None."""
        seconds = AUTO_PURGE_SECONDS[spec.rotation.celigo.auto_purge]
        if seconds is None:
            return None
        return datetime.now(UTC) + min(timedelta(seconds=seconds), celigo.client.MAX_AUTO_PURGE)

    async def find_lost(self, ctx: Context, rot: dict[str, Any], rotation_id: str) -> dict[str, Any] | None:
        client = await self.client(ctx, rot)
        name = self.token_name(ctx, rotation_id)
        try:
            lost = next((t for t in await client.list_access_tokens() if t.name == name), None)
        except celigo.CeligoError as exc:
            raise self.wait(exc, "listing tokens") from None
        return {"id": lost.id} if lost is not None and not lost.revoked else None

    async def mint(self, ctx: Context, rot: dict[str, Any], rotation_id: str) -> Minted:
        client = await self.client(ctx, rot)
        try:
            made = await client.create_access_token(
                self.token_name(ctx, rotation_id),
                description="Created by celigo-operator for the baton-celigo connector.",
                auto_purge_at=self.auto_purge_at(ctx.spec),
            )
        except (celigo.errors.Forbidden, celigo.errors.NotFound) as exc:
            raise Unsupported(
                f"Celigo refused the accesstokens API ({exc.status_code}): this token may not manage tokens."
            ) from None
        except celigo.CeligoError as exc:
            raise self.wait(exc, "token create") from None
        values = {manifests.ENV_ACCESS_TOKEN: made.value} if made.value is not None else None
        return Minted(made.record.id, values, made.record.auto_purge_at)

    async def reveal(self, ctx: Context, rot: dict[str, Any], credential_id: str) -> dict[str, str]:
        client = await self.client(ctx, rot)
        try:
            # Not in any public doc: it may be refused or absent. Then the token is revoked at once.
            value = await client.display_access_token(credential_id)
        except (celigo.errors.Forbidden, celigo.errors.NotFound, celigo.errors.MalformedResponse) as exc:
            raise Unusable(
                f"Celigo created token {credential_id} but would not show its value (GET "
                f"/v1/accesstokens/{{id}}/display answered {exc.status_code or 'no value'}); the operator "
                "revoked that token at once, so none it made is left live.",
                unsupported=True,
            ) from None
        except celigo.CeligoError as exc:
            raise self.wait(exc, "reading the new token") from None
        return {manifests.ENV_ACCESS_TOKEN: value}

    async def verify(self, ctx: Context, values: dict[str, str]) -> None:
        checked = await self.health.check_celigo(ctx.spec.region, values[manifests.ENV_ACCESS_TOKEN], inventory=False)
        if checked.transient:
            raise Wait(f"Celigo could not verify the new token: {checked.reachable.message}", backoff=True)
        if not checked.token_accepted:
            raise Refused(f"Celigo refused the new token: {checked.reachable.message}")

    async def is_live(self, ctx: Context, rot: dict[str, Any], credential_id: str) -> bool:
        client = await self.client(ctx, rot)
        try:
            old = await client.get_access_token(credential_id)
        except celigo.errors.NotFound:
            return False
        except celigo.CeligoError as exc:
            raise self.wait(exc, "reading the previous token") from None
        return not old.revoked

    async def revoke(self, ctx: Context, rot: dict[str, Any], credential_id: str, what: str) -> None:
        client = await self.client(ctx, rot)
        try:
            await client.revoke_access_token(credential_id)
        except celigo.errors.NotFound:
            pass
        except celigo.CeligoError as exc:
            raise self.wait(exc, f"revoking {what}") from None

    async def expires_at(self, ctx: Context, rot: dict[str, Any], credential_id: str) -> datetime | None:
        try:
            record = await (await self.client(ctx, rot)).get_access_token(credential_id)
        except celigo.CeligoError as exc:
            raise self.wait(exc, "reading the token's expiry") from None
        return record.auto_purge_at


def providers(
    kube: Kube, clients: Clients, health: HealthChecker, settings: RotationSettings
) -> dict[Flow, Provider]:
    return {p.flow: p for p in (ConductorOne(kube, clients, health, settings), Celigo(kube, clients, health, settings))}


def new_rotation_id() -> str:
    return secrets.token_hex(4)

