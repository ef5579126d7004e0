"""Reading the user's Secrets (connector credentials, ConductorOne API credentials): pure functions.

A Secret is read only if it opted in with the label celigo-operator.io/credentials: "true", so whoever may
create a CeligoConnector cannot pipe an arbitrary Secret of the namespace into a pod. Every refusal has
its own reason, and messages name the Secret and key, never a value.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from celigo_operator import api
from celigo_operator.credentials import CredentialFormatError, parse_client_id, parse_client_secret
from celigo_operator.manifests import ENV_ACCESS_TOKEN, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ConnectorCredentials


class CredentialProblem(Exception):
    """A Secret cannot give a usable value; `reason` is a condition reason, `message` names Secret and key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def opted_in_secret(secret: Mapping[str, Any] | None, namespace: str, name: str) -> Mapping[str, Any]:
    """The Secret itself, if it exists and opted in; CredentialProblem otherwise."""
    where = f"Secret {namespace}/{name}"
    if secret is None:
        raise CredentialProblem("SecretNotFound", f"{where} does not exist.")
    labels = (secret.get("metadata") or {}).get("labels") or {}
    if labels.get(api.CREDENTIALS_OPT_IN_LABEL) != "true":
        raise CredentialProblem(
            "SecretNotOptedIn",
            f'{where} is not labelled {api.CREDENTIALS_OPT_IN_LABEL}: "true"; the operator only reads '
            "Secrets that opt in.",
        )
    return secret


#: The longest credential value the operator reads (bytes, surrounding whitespace trimmed): a Celigo token is 32
#: hex characters and a ConductorOne client secret about 150; anything near this is not a credential.
MAX_VALUE_BYTES = 4096
#: The CredentialsValid reason of a malformed value, by role.
MALFORMED_CLIENT_ID = "MalformedClientId"
MALFORMED_CLIENT_SECRET = "MalformedClientSecret"
MALFORMED_TOKEN = "MalformedToken"
CONNECTOR_ROLES = (MALFORMED_CLIENT_ID, MALFORMED_CLIENT_SECRET, MALFORMED_TOKEN)


def value_problem(raw: bytes) -> str | None:
    """What makes a credential value unusable, in words that never quote it; None when it is fine. Surrounding
    whitespace is not a problem (it is trimmed). Such a value is never sent anywhere: it would be refused, or
    worse, make the HTTP client raise (a line break in a header)."""
    trimmed = raw.strip()
    if len(trimmed) > MAX_VALUE_BYTES:
        return f"is {len(trimmed)} bytes long, more than the {MAX_VALUE_BYTES} a credential may have"
    try:
        text = trimmed.decode("utf-8").strip()
    except UnicodeDecodeError:
        return "is not valid UTF-8 text"
    if any(c.isspace() for c in text):
        return (
            "has whitespace inside it (a space, tab or line break; a 'Bearer ' prefix or a second value does "
            "not belong in the Secret)"
        )
    if not (text.isascii() and text.isprintable()):
        return "has characters that are not printable ASCII"
    return None


def decode_key(secret: Mapping[str, Any], where: str, key: str, malformed: str = "MalformedValue") -> str:
    """One key's text (data, or stringData as a client may send it), trimmed: KeyMissing when absent or blank,
    `malformed` (a reason) when the value cannot be a credential (`value_problem`)."""
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        text = (secret.get("stringData") or {}).get(key)
        if text is None:
            raise CredentialProblem("KeyMissing", f"{where} has no key {key}.")
        value = str(text).encode("utf-8", "surrogateescape")
    else:
        try:
            value = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise CredentialProblem(malformed, f"{where} key {key} is not valid base64 data.") from None
    if not value.strip():
        raise CredentialProblem("KeyMissing", f"{where} key {key} is empty.")
    problem = value_problem(value)
    if problem is not None:
        raise CredentialProblem(malformed, f"{where} key {key} {problem}.")
    return value.decode("utf-8").strip()


def read_keys(
    secret: Mapping[str, Any] | None,
    namespace: str,
    name: str,
    keys: Sequence[str],
    malformed: Sequence[str] | None = None,
) -> list[str]:
    """Values of `keys` from an opted-in Secret: one KeyMissing naming every missing key at once, else the
    reason in `malformed` (by position; default MalformedValue) of the first key whose value is unusable."""
    where = f"Secret {namespace}/{name}"
    checked = opted_in_secret(secret, namespace, name)
    reasons = list(malformed or ["MalformedValue"] * len(keys))
    values: list[str] = []
    missing: list[tuple[str, CredentialProblem]] = []
    bad: list[tuple[str, CredentialProblem]] = []
    for key, reason in zip(keys, reasons, strict=True):
        try:
            values.append(decode_key(checked, where, key, reason))
        except CredentialProblem as exc:
            (missing if exc.reason == "KeyMissing" else bad).append((key, exc))
    if missing:
        raise CredentialProblem(
            "KeyMissing", f"{where} is missing or has empty key(s): {', '.join(k for k, _ in missing)}."
        )
    if bad:
        raise CredentialProblem(bad[0][1].reason, " ".join(exc.message for _, exc in bad))
    return values


def credentials_from_secret(
    secret: Mapping[str, Any] | None, ref: api.CredentialsSecretRef, namespace: str
) -> ConnectorCredentials:
    """Read and check the source Secret the way the connector would before any pod starts."""
    keys = ref.keys
    client_id, client_secret, token = read_keys(
        secret, namespace, ref.name, [keys.client_id, keys.client_secret, keys.celigo_access_token], CONNECTOR_ROLES
    )
    where = f"Secret {namespace}/{ref.name}"
    try:
        parse_client_id(client_id)
    except CredentialFormatError as exc:
        raise CredentialProblem(
            "MalformedClientId",
            f"{where} key {keys.client_id}: {exc.reason} (expected <name>@<tenant-host>/<rest>).",
        ) from None
    try:
        parse_client_secret(client_secret)
    except CredentialFormatError as exc:
        raise CredentialProblem(
            "MalformedClientSecret",
            f"{where} key {keys.client_secret}: {exc.reason} "
            "(expected secret-token:conductorone.com:v1:<base64url Ed25519 JWK>).",
        ) from None
    return ConnectorCredentials(client_id=client_id, client_secret=client_secret, access_token=token)


def merge_credentials(
    source: Mapping[str, Any] | None,
    ref: api.CredentialsSecretRef,
    namespace: str,
    owned: Mapping[str, str],
) -> ConnectorCredentials:
    """The connector's set: operator-owned values (rotated credentials) win; the source Secret supplies only
    the other keys, still only if it opted in."""
    if not owned:
        return credentials_from_secret(source, ref, namespace)
    keys = ref.keys
    wanted = {
        ENV_CLIENT_ID: keys.client_id,
        ENV_CLIENT_SECRET: keys.client_secret,
        ENV_ACCESS_TOKEN: keys.celigo_access_token,
    }
    malformed = dict(zip(wanted, CONNECTOR_ROLES, strict=True))
    missing = [env for env in wanted if env not in owned]
    values = dict(owned)
    if missing:
        read = read_keys(
            source, namespace, ref.name, [wanted[env] for env in missing], [malformed[env] for env in missing]
        )
        values.update(zip(missing, read, strict=True))
    where = f"Secret {namespace}/{ref.name}"
    try:
        parse_client_id(values[ENV_CLIENT_ID])
    except CredentialFormatError as exc:
        raise CredentialProblem("MalformedClientId", f"{where} key {keys.client_id}: {exc.reason}.") from None
    try:
        parse_client_secret(values[ENV_CLIENT_SECRET])
    except CredentialFormatError as exc:
        raise CredentialProblem("MalformedClientSecret", f"{where} key {keys.client_secret}: {exc.reason}.") from None
    return ConnectorCredentials(
        client_id=values[ENV_CLIENT_ID],
        client_secret=values[ENV_CLIENT_SECRET],
        access_token=values[ENV_ACCESS_TOKEN],
    )
