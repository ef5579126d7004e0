"""Shared fixtures of the emulator contract tests: a fresh emulator, an authenticated client, a test CRD."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from celigo_testkit.kube import EmulatorSettings, KubeEmulator
from celigo_testkit.kube.pytest_fixtures import kube_emulator, kube_emulator_session  # noqa: F401

REPO = Path(__file__).resolve().parents[2]

WIDGET_CRD_YAML = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    listKind: WidgetList
    shortNames: [wd]
    categories: [all]
  versions:
    - name: v1
      served: true
      storage: true
      subresources:
        status: {}
      additionalPrinterColumns:
        - name: Size
          type: string
          jsonPath: .spec.size
        - name: Ready
          type: string
          jsonPath: .status.conditions[?(@.type=="Ready")].status
        - name: Age
          type: date
          jsonPath: .metadata.creationTimestamp
      schema:
        openAPIV3Schema:
          type: object
          description: A Widget is a small test resource.
          properties:
            spec:
              type: object
              description: Desired state of the widget.
              required: [size]
              properties:
                size:
                  type: string
                  description: How big the widget is.
                  enum: [s, m, l]
                name:
                  type: string
                  pattern: '^[a-z]+$'
                  maxLength: 10
                replicas:
                  type: integer
                  minimum: 1
                  default: 1
                color:
                  type: string
                  default: blue
                tags:
                  type: array
                  maxItems: 3
                  items:
                    type: string
            status:
              type: object
              properties:
                phase:
                  type: string
                observedGeneration:
                  type: integer
                conditions:
                  type: array
                  items:
                    type: object
                    properties:
                      type: {type: string}
                      status: {type: string}
                      reason: {type: string}
                      message: {type: string}
                      lastTransitionTime: {type: string, format: date-time}
"""
WIDGET_CRD: dict[str, Any] = yaml.safe_load(WIDGET_CRD_YAML)
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


def fast_settings(**overrides: Any) -> EmulatorSettings:
    """Short delays so rollouts and GC finish within a few hundred milliseconds (timeoutSeconds=1 → 0.25 s)."""
    base = {"rollout_delay": 0.05, "bookmark_interval": 1.0, "gc_interval": 0.02, "watch_timeout_scale": 0.25}
    base.update(overrides)
    return EmulatorSettings(**base)


@pytest.fixture
def emu() -> Iterator[KubeEmulator]:
    with KubeEmulator(settings=fast_settings()) as e:
        yield e


@pytest.fixture
def api(emu: KubeEmulator) -> Iterator[httpx.Client]:
    """Raw HTTP with the bearer token: what every contract test speaks."""
    with httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {emu.token}"}, timeout=10) as c:
        yield c


@pytest.fixture
def widget_crd(api: httpx.Client) -> dict[str, Any]:
    """Register the test CRD through the API, exactly as kubectl apply of the YAML would."""
    r = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=copy.deepcopy(WIDGET_CRD))
    assert r.status_code == 201, r.text
    return r.json()


def widget(name: str, size: str = "s", /, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size, **spec},
    }


def configmap(name: str, data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": data or {}}


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 2, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **spec,
        },
    }


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll until predicate returns something truthy (fails the test with the last value otherwise)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s; last value: {last!r}")


def watch_events(
    api: httpx.Client, path: str, *, max_events: int | None = None, **params: Any
) -> list[dict[str, Any]]:
    """Read a watch stream until it ends (timeoutSeconds) or max_events arrived."""
    events: list[dict[str, Any]] = []
    params = {"watch": "true", **{k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}}
    with api.stream("GET", path, params=params) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if not line:
                continue
            events.append(json.loads(line))
            if max_events is not None and len(events) >= max_events:
                break
    return events
