"""Reading the user's Secrets (connector credentials, ConductorOne API credentials): pure functions.

A Secret is read only if it opted in with the label celigo-operator.io/credentials: "true", so whoever may
create a CeligoConnector cannot pipe an arbitrary Secret of the namespace into a pod. Every refusal has
its own reason, and messages name the Secret and key, never a value.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
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


def decode_key(secret: Mapping[str, Any], where: str, key: str) -> str:
    """One key's text (data, or stringData as a client may send it); KeyMissing when absent or blank."""
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        text = (secret.get("stringData") or {}).get(key)
        if text is None:
            raise CredentialProblem("KeyMissing", f"{where} has no key {key}.")
        value = str(text)
    else:
        try:
            value = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialProblem("KeyMissing", f"{where} key {key} is not valid UTF-8 text.") from None
    if not value.strip():
        raise CredentialProblem("KeyMissing", f"{where} key {key} is empty.")
    return value.strip()


def read_keys(secret: Mapping[str, Any] | None, namespace: str, name: str, keys: list[str]) -> list[str]:
    """Values of `keys` from an opted-in Secret; one KeyMissing naming every missing key at once."""
    where = f"Secret {namespace}/{name}"
    checked = opted_in_secret(secret, namespace, name)
    values, missing = [], []
    for key in keys:
        try:
            values.append(decode_key(checked, where, key))
        except CredentialProblem:
            missing.append(key)
    if missing:
        raise CredentialProblem(
            "KeyMissing", f"{where} is missing or has empty key(s): {', '.join(missing)}."
        )
    return values


def credentials_from_secret(
    secret: Mapping[str, Any] | None, ref: api.CredentialsSecretRef, namespace: str
) -> ConnectorCredentials:
    """Read and check the source Secret the way the connector would before any pod starts."""
    keys = ref.keys
    client_id, client_secret, token = read_keys(
        secret, namespace, ref.name, [keys.client_id, keys.client_secret, keys.celigo_access_token]
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
    missing = [env for env in wanted if env not in owned]
    values = dict(owned)
    if missing:
        read = read_keys(source, namespace, ref.name, [wanted[env] for env in missing])
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
