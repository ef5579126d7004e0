"""The writes one connector needs, shared by the bare-client floor and the minimal kopf operator so both do
exactly the same work: the credentials Secret and Deployment the operator would build (its own manifests
code), then one status patch with Reconciled=True and CredentialsValid=True."""

from __future__ import annotations

from typing import Any

from celigo_operator import api, manifests
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.config import OperatorConfig
from celigo_operator.manifests import ConnectorCredentials, Owner

SOURCE_SECRET = "celigo-credentials"
CONFIG = OperatorConfig()
CREDS = ConnectorCredentials(client_id="bench@tenant.conductor.one/x", client_secret="s", access_token="t")
VERSION = manifests.credentials_version(b"k" * 32, CREDS)
SPEC = CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": SOURCE_SECRET}})


def status(generation: int) -> dict[str, Any]:
    conditions = [
        {"type": t, "status": "True", "reason": t, "message": "bench", "observedGeneration": generation,
         "lastTransitionTime": "2026-01-01T00:00:00Z"}
        for t in ("Reconciled", "CredentialsValid")
    ]
    return {"status": {"observedGeneration": generation, "conditions": conditions}}


def write_children(core: Any, apps: Any, ns: str, name: str, uid: str) -> None:
    owner = Owner(name=name, namespace=ns, uid=uid)
    secret = manifests.build_secret(owner, CREDS, VERSION)
    core.create_namespaced_secret(ns, secret)
    apps.create_namespaced_deployment(ns, manifests.build_deployment(owner, SPEC, CONFIG, secret["metadata"]["name"],
                                                                     VERSION))


def patch_status(custom: Any, ns: str, name: str, generation: int) -> None:
    custom.patch_namespaced_custom_object_status(api.GROUP, api.VERSION, ns, api.PLURAL, name, status(generation))
