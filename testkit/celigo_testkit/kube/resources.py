"""What the emulator serves: built-in resource types and resources derived from CustomResourceDefinitions.

Names, short names, categories, verbs and subresources match what a real v1.3x kube-apiserver publishes
in discovery, because kubectl resolves ``deploy``, ``po`` or ``all`` from exactly these fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ALL_VERBS",
    "BUILTIN_RESOURCES",
    "ResourceInfo",
    "builtin_resource",
    "resources_from_crd",
]

ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
_NO_DELETECOLLECTION: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceInfo:
    """One served resource of one group-version (a discovery APIResource plus what the server needs)."""

    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()  # e.g. ("status",) or ("scale", "status")
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)  # CRD openAPIV3Schema
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    custom: bool = False  # defined by a CRD
    storage: bool = True  # the storage version (custom resources)
    crd_list_kind: str = ""  # spec.names.listKind of a CRD when it is set
    crd_name: str = ""  # metadata.name of the defining CRD
    scale: dict[str, Any] | None = field(
        default=None, compare=False, hash=False
    )  # CRD scale subresource paths
    selectable_fields: tuple[str, ...] = ()  # CRD selectableFields JSONPaths (".spec.color")
    deprecated: bool = False
    deprecation_warning: str | None = None

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, else ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """The kind of a list of these objects (``SecretList``, or a CRD's listKind)."""
        return self.crd_list_kind or f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """GroupResource.String(): ``secrets`` or ``deployments.apps`` (used in error messages)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_version(self) -> tuple[str, str]:
        """(group, version), handy for grouping resources per discovery document."""
        return (self.group, self.version)

    def has_subresource(self, name: str) -> bool:
        """Whether ``/<name>`` is served for this resource (``status``, ``scale``)."""
        return name in self.subresources


def _r(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool,
    *,
    short_names: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    subresources: tuple[str, ...] = (),
) -> ResourceInfo:
    return ResourceInfo(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short_names,
        categories=categories,
        verbs=verbs,
        subresources=subresources,
    )


BUILTIN_RESOURCES: tuple[ResourceInfo, ...] = (
    # core/v1
    _r("", "v1", "ConfigMap", "configmaps", True, short_names=("cm",)),
    _r("", "v1", "Event", "events", True, short_names=("ev",)),
    _r(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        short_names=("ns",),
        verbs=_NO_DELETECOLLECTION,
        subresources=("finalize", "status"),
    ),
    _r("", "v1", "Pod", "pods", True, short_names=("po",), categories=("all",), subresources=("status",)),
    _r("", "v1", "Secret", "secrets", True),
    _r("", "v1", "ServiceAccount", "serviceaccounts", True, short_names=("sa",)),
    _r(
        "",
        "v1",
        "Service",
        "services",
        True,
        short_names=("svc",),
        categories=("all",),
        subresources=("status",),
    ),
    # apps/v1
    _r(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        short_names=("deploy",),
        categories=("all",),
        subresources=("scale", "status"),
    ),
    _r(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        True,
        short_names=("rs",),
        categories=("all",),
        subresources=("scale", "status"),
    ),
    # events.k8s.io/v1
    _r("events.k8s.io", "v1", "Event", "events", True, short_names=("ev",)),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io", "v1", "Lease", "leases", True),
    # apiextensions.k8s.io/v1
    ResourceInfo(
        group="apiextensions.k8s.io",
        version="v1",
        kind="CustomResourceDefinition",
        plural="customresourcedefinitions",
        singular="customresourcedefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=("status",),
    ),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    # policy/v1
    _r(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        True,
        short_names=("pdb",),
        subresources=("status",),
    ),
    # networking.k8s.io/v1
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, short_names=("netpol",)),
)


def builtin_resource(group: str, version: str, plural: str) -> ResourceInfo:
    """Look up a built-in resource; KeyError when it is not one we serve."""
    for info in BUILTIN_RESOURCES:
        if info.group == group and info.version == version and info.plural == plural:
            return info
    raise KeyError(f"{plural}.{group}/{version}" if group else f"{plural}/{version}")


def resources_from_crd(crd: dict[str, Any]) -> list[ResourceInfo]:
    """One ResourceInfo per served version of an apiextensions.k8s.io/v1 CustomResourceDefinition.

    Versions with ``served: false`` are not served at all (a real server answers 404 for them).
    """
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    kind = names.get("kind", "")
    plural = names.get("plural", "")
    singular = names.get("singular") or kind.lower()
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    out: list[ResourceInfo] = []
    for ver in spec.get("versions") or []:
        if not ver.get("served", False):
            continue
        sub = ver.get("subresources") or {}
        subresources = tuple(sorted(k for k in ("scale", "status") if k in sub))
        schema = (ver.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            ResourceInfo(
                group=group,
                version=ver.get("name", ""),
                kind=kind,
                plural=plural,
                singular=singular,
                namespaced=namespaced,
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                verbs=ALL_VERBS,
                subresources=subresources,
                schema=schema,
                printer_columns=tuple(ver.get("additionalPrinterColumns") or ()),
                custom=True,
                storage=bool(ver.get("storage", False)),
                crd_list_kind=names.get("listKind") or "",
                crd_name=(crd.get("metadata") or {}).get("name", f"{plural}.{group}"),
                scale=sub.get("scale"),
                selectable_fields=tuple(
                    f["jsonPath"]
                    for f in ver.get("selectableFields") or ()
                    if isinstance(f, dict) and "jsonPath" in f
                ),
                deprecated=bool(ver.get("deprecated", False)),
                deprecation_warning=ver.get("deprecationWarning"),
            )
        )
    return out
