"""The pod policy: what a CeligoConnector's author may put in the connector's pod. Pure functions.

Cross-field and operator-policy checks the schema cannot express. Whoever may create a CeligoConnector must
not be able to run chosen flags, proxy settings or code next to the credentials of an opted-in Secret.
"""

from __future__ import annotations

from celigo_operator import api, manifests
from celigo_operator import conditions as cond
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.conditions import Cond
from celigo_operator.config import OperatorConfig


def check_spec(spec: CeligoConnectorSpec, config: OperatorConfig) -> Cond | None:
    """Cross-field and operator-policy checks the schema cannot express; None when the spec is usable."""
    image = manifests.connector_image(spec, config)
    if not config.image_allowed(image):
        allowed = ", ".join(config.image_allowlist) or "(none)"
        return Cond.false(
            cond.RECONCILED,
            "ImageNotAllowed",
            f"spec.image {image} is not allowed by the operator; allowed prefixes: {allowed}.",
        )
    clashes = sorted({e.name for e in spec.extra_env or []} & manifests.MANAGED_ENV)
    if clashes:
        return Cond.false(
            cond.RECONCILED,
            "InvalidSpec",
            f"spec.extraEnv may not set {', '.join(clashes)}: the operator manages these variables.",
        )
    names = [e.name for e in spec.extra_env or []]
    if len(names) != len(set(names)):
        return Cond.false(cond.RECONCILED, "InvalidSpec", "spec.extraEnv names a variable twice.")
    try:
        api.parse_duration(spec.health_check.interval)
    except ValueError as exc:
        return Cond.false(cond.RECONCILED, "InvalidSpec", f"spec.healthCheck.interval: {exc}")
    return None

