"""The minimal kopf operator of the goal table: on create, the same writes as the bare-client floor
(benchmarks.writes: Secret, Deployment, status patch), nothing else. kopf's defaults otherwise (its progress
annotations, its Events), 8 handler threads like the operator's API pool.

    KUBECONFIG=... python -m kopf run --standalone -A benchmarks/kopf_minimal.py
"""

from __future__ import annotations

from typing import Any

import kopf
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from benchmarks.writes import patch_status, write_children
from celigo_operator import api

_clients: dict[str, Any] = {}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.execution.max_workers = 8
    cfg = k8s.Configuration()
    k8s_config.load_kube_config(client_configuration=cfg)
    cfg.connection_pool_maxsize = 8  # one connection per handler thread
    client = k8s.ApiClient(cfg)
    _clients.update(core=k8s.CoreV1Api(client), apps=k8s.AppsV1Api(client), custom=k8s.CustomObjectsApi(client))


@kopf.on.create(api.GROUP, api.VERSION, api.PLURAL)
def create(name: str, namespace: str, uid: str, meta: kopf.Meta, **_: Any) -> None:
    write_children(_clients["core"], _clients["apps"], namespace, name, uid)
    patch_status(_clients["custom"], namespace, name, int(meta.get("generation") or 1))
