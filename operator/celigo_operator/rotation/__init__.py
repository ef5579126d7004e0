"""Credential rotation: the journal in status.rotation and the steps that move it.

    journal.py    the vocabulary: Step, Flow, the per-pass Context, owned Secrets, owned values
    providers.py  ConductorOne and Celigo as providers: mint, reveal, verify, is_live, revoke, expires_at
    machine.py    the generic flow over the providers, driven by the step table STEPS
    expiry.py     CredentialsExpiring from the credentials' expiry
    finalizer.py  revoke-on-delete of the ConductorOne credentials the operator created
"""

from celigo_operator.config import RotationSettings
from celigo_operator.rotation.finalizer import FINALIZER, operator_credentials
from celigo_operator.rotation.journal import (
    Context,
    Flow,
    Result,
    Step,
    Wait,
    backoff_delay,
    build_owned_secret,
    enabled_flows,
    journal,
    owned_values,
)
from celigo_operator.rotation.machine import FLOW_STEPS, STEPS, Rotator

__all__ = [
    "FINALIZER",
    "FLOW_STEPS",
    "STEPS",
    "Context",
    "Flow",
    "Result",
    "RotationSettings",
    "Rotator",
    "Step",
    "Wait",
    "backoff_delay",
    "build_owned_secret",
    "enabled_flows",
    "journal",
    "operator_credentials",
    "owned_values",
]
