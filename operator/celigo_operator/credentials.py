"""Parse and check ConductorOne client credentials the way the baton-celigo connector does.

The connector (baton-sdk ``pkg/ugrpc``) refuses a malformed client id with "invalid client id" and a
malformed client secret with "invalid client secret", then exits 1 before any network call: the pod
crash-loops. Checking the same rules here lets the operator refuse a bad Secret before any pod starts.

Rules mirrored from baton-sdk:

* client id: split once on ``@``, then split the right part once on ``/``; both splits must yield two
  parts. The tenant host is the text between the first ``@`` and the next ``/``.
* client secret: split into at most four parts on ``:``; there must be four and the third must be
  ``v1`` (the first two, ``secret-token`` and ``conductorone.com``, are not checked by the connector,
  so they are not checked here either). The fourth is unpadded base64url (Go's ``RawURLEncoding``,
  which skips CR/LF) of a JSON Web Key that must be an Ed25519 private key (``kty`` OKP, ``crv``
  Ed25519, ``d`` and ``x``).

Deliberately stricter than the connector, because such values parse there but can never authenticate:
an empty name or tenant host, ``d``/``x`` that are not 32 bytes, and an ``x`` that is not the public
key of ``d`` (the connector would sign with it and be refused by ConductorOne at every token request).

Nothing here does I/O. Error messages name what is wrong and never include the value.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "ClientId",
    "ClientSecret",
    "CredentialFormatError",
    "parse_client_id",
    "parse_client_secret",
]

SECRET_VERSION = "v1"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_ED25519_KEY_SIZE = 32


class CredentialFormatError(ValueError):
    """A client id or secret the connector would refuse; the message never contains the value.

    ``field`` is ``"client id"`` or ``"client secret"``; ``reason`` says what is wrong. ``str()`` reads
    like the connector's own message followed by the reason, e.g. ``invalid client secret: third part
    must be v1``.
    """

    def __init__(self, field_name: str, reason: str) -> None:
        self.field = field_name
        self.reason = reason
        super().__init__(f"invalid {field_name}: {reason}")


@dataclass(frozen=True)
class ClientId:
    """A parsed client id ``<name>@<tenant-host>/<rest>``; an identifier, not a secret."""

    raw: str
    name: str
    tenant_host: str
    rest: str

    @property
    def audience(self) -> str:
        """The tenant host without a port: what the token endpoint expects as the assertion's ``aud``."""
        return strip_port(self.tenant_host)

    def __str__(self) -> str:
        return self.raw


@dataclass(frozen=True, repr=False)
class ClientSecret:
    """A parsed client secret: the Ed25519 private key (and its JWK ``kid``, if any). Never printed."""

    private_key: Ed25519PrivateKey = field(compare=False)
    key_id: str | None = None

    def __repr__(self) -> str:
        return "ClientSecret(<redacted>)"

    __str__ = __repr__

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_key_bytes(self) -> bytes:
        """Raw 32-byte public key: safe to log, compare or register with a server."""
        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def strip_port(host: str) -> str:
    """Drop a ``:port`` the way Go's ``net.SplitHostPort`` would; leave anything else unchanged."""
    if host.startswith("["):
        end = host.find("]")
        if end != -1 and host[end + 1 :].startswith(":"):
            return host[1:end]
        return host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def parse_client_id(value: str) -> ClientId:
    """Split a client id as baton-sdk does; raise CredentialFormatError("invalid client id: ...")."""
    if not isinstance(value, str):
        raise CredentialFormatError("client id", "must be a string")
    name, at, after = value.partition("@")
    if not at:
        raise CredentialFormatError("client id", "missing '@' (expected <name>@<tenant-host>/<rest>)")
    tenant_host, slash, rest = after.partition("/")
    if not slash:
        raise CredentialFormatError("client id", "missing '/' after the tenant host")
    if not name.strip():
        raise CredentialFormatError("client id", "empty name before '@'")
    if not tenant_host.strip():
        raise CredentialFormatError("client id", "empty tenant host between '@' and '/'")
    if tenant_host != tenant_host.strip() or any(c.isspace() for c in tenant_host):
        raise CredentialFormatError("client id", "tenant host contains whitespace")
    return ClientId(raw=value, name=name, tenant_host=tenant_host, rest=rest)


def _b64url_decode(text: str, what: str) -> bytes:
    """Decode unpadded base64url like Go's RawURLEncoding (CR/LF ignored, no '=' accepted)."""
    text = text.replace("\r", "").replace("\n", "")
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise CredentialFormatError("client secret", f"{what} is not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CredentialFormatError("client secret", f"{what} is not unpadded base64url") from None


def _jwk_field(jwk: dict[str, Any], name: str) -> bytes:
    raw = jwk.get(name)
    if raw is None:
        raise CredentialFormatError("client secret", f"JWK has no '{name}'")
    if not isinstance(raw, str):
        raise CredentialFormatError("client secret", f"JWK '{name}' is not a string")
    # go-jose tolerates trailing '=' on JWK members.
    decoded = _b64url_decode(raw.rstrip("="), f"JWK '{name}'")
    if len(decoded) != _ED25519_KEY_SIZE:
        raise CredentialFormatError("client secret", f"JWK '{name}' is not {_ED25519_KEY_SIZE} bytes")
    return decoded


def parse_client_secret(value: str) -> ClientSecret:
    """Parse ``secret-token:conductorone.com:v1:<base64url JWK>`` into an Ed25519 key holder."""
    if not isinstance(value, str):
        raise CredentialFormatError("client secret", "must be a string")
    parts = value.split(":", 3)
    if len(parts) != 4:
        raise CredentialFormatError("client secret", "expected four ':'-separated parts")
    if parts[2] != SECRET_VERSION:
        raise CredentialFormatError("client secret", f"third part must be {SECRET_VERSION}")
    data = _b64url_decode(parts[3], "fourth part")
    try:
        jwk = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise CredentialFormatError("client secret", "fourth part is not a JSON Web Key") from None
    if not isinstance(jwk, dict):
        raise CredentialFormatError("client secret", "fourth part is not a JSON Web Key")
    for member in ("kid", "use", "alg"):
        # go-jose fails to unmarshal a JWK whose string members have another type.
        if jwk.get(member) is not None and not isinstance(jwk[member], str):
            raise CredentialFormatError("client secret", f"JWK '{member}' is not a string")
    if jwk.get("kty") != "OKP":
        raise CredentialFormatError("client secret", "JWK is not an OKP key (kty must be OKP)")
    if jwk.get("crv") != "Ed25519":
        raise CredentialFormatError("client secret", "JWK is not an Ed25519 key (crv must be Ed25519)")
    x = _jwk_field(jwk, "x")
    if "d" not in jwk:
        raise CredentialFormatError("client secret", "JWK is a public key, not a private key (no 'd')")
    d = _jwk_field(jwk, "d")
    private_key = Ed25519PrivateKey.from_private_bytes(d)
    if private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) != x:
        raise CredentialFormatError("client secret", "JWK 'x' is not the public key of 'd'")
    return ClientSecret(private_key=private_key, key_id=jwk.get("kid") or None)
