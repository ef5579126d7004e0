"""The restricted Pod Security Standard, checked field by field (no admission controller here).

Written from https://kubernetes.io/docs/concepts/security/pod-security-standards/ (restricted profile, and the
baseline controls it includes). Returns the list of violations; empty means compliant.
"""

from __future__ import annotations

from typing import Any

ALLOWED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
BASELINE_CAPS = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}


def restricted_violations(pod_spec: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    psc = pod_spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(flag):
            problems.append(f"spec.{flag} must not be true")
    for vol in pod_spec.get("volumes") or []:
        kinds = set(vol) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            problems.append(f"volume {vol.get('name')}: type {sorted(kinds)} not allowed")
    if psc.get("runAsUser") == 0:
        problems.append("spec.securityContext.runAsUser must not be 0")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        problems.append("spec.securityContext.seccompProfile.type must be RuntimeDefault or Localhost")
    for sysctl in psc.get("sysctls") or []:
        problems.append(f"sysctl {sysctl.get('name')} is not in the safe set")
    all_containers = [
        *(pod_spec.get("initContainers") or []),
        *(pod_spec.get("containers") or []),
        *(pod_spec.get("ephemeralContainers") or []),
    ]
    for c in all_containers:
        name = c.get("name")
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            problems.append(f"container {name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name}: allowPrivilegeEscalation must be false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"container {name}: capabilities must drop ALL")
        added = set(caps.get("add") or [])
        if added - {"NET_BIND_SERVICE"}:
            problems.append(f"container {name}: may only add NET_BIND_SERVICE, adds {sorted(added)}")
        if not (
            sc.get("runAsNonRoot") is True
            or (sc.get("runAsNonRoot") is None and psc.get("runAsNonRoot") is True)
        ):
            problems.append(f"container {name}: runAsNonRoot must be true (pod or container)")
        if sc.get("runAsUser") == 0:
            problems.append(f"container {name}: runAsUser must not be 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"container {name}: seccompProfile must be RuntimeDefault or Localhost")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"container {name}: hostPort not allowed")
        if sc.get("procMount") not in (None, "Default"):
            problems.append(f"container {name}: procMount must be Default")
        opts = sc.get("seLinuxOptions") or {}
        if opts.get("user") or opts.get("role"):
            problems.append(f"container {name}: seLinuxOptions user/role not allowed")
    return problems
