"""Make ConductorOne client credentials for the fakes, the demo, tests and benchmarks.

A client id is ``<name>@<tenant-host>/<rest>``; a client secret is
``secret-token:conductorone.com:v1:<unpadded base64url of an Ed25519 private JWK>``
(the format the connector parses). This module only writes it. Parsing and checking it is the
operator's job (``celigo_operator.credentials``); the fakes keep the public key of what they issue
instead of parsing it back, so a parser bug in the operator cannot be mirrored here.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

__all__ = ["IssuedClient", "encode_client_secret", "generate_client_credentials", "issue_client", "strip_port"]

SECRET_PREFIX = "secret-token:conductorone.com"
SECRET_VERSION = "v1"


@dataclass(frozen=True, repr=False)
class IssuedClient:
    """A freshly made credential pair and the public key a server registers for it."""

    client_id: str
    client_secret: str
    public_key: Ed25519PublicKey

    def __repr__(self) -> str:
        return f"IssuedClient(client_id={self.client_id!r}, client_secret=<redacted>)"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_client_secret(private_key: Ed25519PrivateKey, key_id: str | None = None) -> str:
    """Encode an Ed25519 private key as a ConductorOne client secret."""
    d = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    x = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwk: dict[str, str] = {"kty": "OKP", "crv": "Ed25519", "d": _b64url(d), "x": _b64url(x)}
    if key_id:
        jwk["kid"] = key_id
    payload = json.dumps(jwk, separators=(",", ":")).encode("utf-8")
    return f"{SECRET_PREFIX}:{SECRET_VERSION}:{_b64url(payload)}"


def issue_client(tenant_host: str, name: str = "celigo-operator") -> IssuedClient:
    """A fresh, valid credential pair; the client id is ``<name>@<tenant_host>/<random>``, distinct per call."""
    if not tenant_host or any(c in tenant_host for c in "@/") or any(c.isspace() for c in tenant_host):
        raise ValueError("tenant_host must be a non-empty host[:port] without '@', '/' or whitespace")
    if not name or "@" in name:
        raise ValueError("name must be non-empty and contain no '@'")
    key = Ed25519PrivateKey.generate()
    return IssuedClient(
        client_id=f"{name}@{tenant_host}/{secrets.token_hex(8)}",
        client_secret=encode_client_secret(key, key_id=secrets.token_hex(8)),
        public_key=key.public_key(),
    )


def generate_client_credentials(tenant_host: str, name: str = "celigo-operator") -> tuple[str, str]:
    """``(client_id, client_secret)`` of a fresh pair (see issue_client)."""
    issued = issue_client(tenant_host, name)
    return issued.client_id, issued.client_secret


def strip_port(host: str) -> str:
    """The host without a ``:port`` (as Go's net.SplitHostPort): the JWT audience ConductorOne expects."""
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end != -1 and host[end + 1 :].startswith(":") else host
    return host.split(":", 1)[0] if host.count(":") == 1 else host
