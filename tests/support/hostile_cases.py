"""The table of hostile and careless input (issue 16) that tests/e2e/test_hostile_input_new.py and
test_hostile_input_update.py try: each row as a new connector, and (unless its `modes` say otherwise) as an
update of a Ready connector. What a row means: tests/support/hostile.py."""

from __future__ import annotations

from celigo_operator import api

from support.hostile import ABSENT, NEW, UPDATE, Case, Good, Refused, Reported

ID, SECRET, TOKEN = "BATON_CLIENT_ID", "BATON_CLIENT_SECRET", "BATON_CELIGO_ACCESS_TOKEN"
LABEL = api.CREDENTIALS_OPT_IN_LABEL
KEYS = "spec.credentialsSecretRef.keys"
C1_PREFIX = "secret-token:conductorone.com:v1:"
DIGEST = "sha256:" + "ab" * 32


MALFORMED_TOKEN = Reported("CredentialsValid", "MalformedToken", (TOKEN,))
MALFORMED_ID = Reported("CredentialsValid", "MalformedClientId", (ID,))
MALFORMED_SECRET = Reported("CredentialsValid", "MalformedClientSecret", (SECRET,))
INVALID_KEYS = Reported("Reconciled", "InvalidSpec", (KEYS,))


def missing(key: str) -> Reported:
    return Reported("CredentialsValid", "KeyMissing", (key,))


def invalid(*names: str) -> Reported:
    return Reported("Reconciled", "InvalidSpec", names)


def args_refused(flag: str) -> Reported:
    return invalid("spec.args", flag)


def env_refused(name: str) -> Reported:
    return invalid("spec.extraEnv", name)


IMAGE_REFUSED = Reported("Reconciled", "ImageNotAllowed", ("spec.image",))
REJECTED_ON_UPDATE = Reported("CredentialsValid", "NewCredentialsRejected", (TOKEN,))


def many(n: int, value: str = "v") -> dict[str, str]:
    return {f"k{i}": value for i in range(n)}


# fmt: off
CASES: list[Case] = [
    # --- the Celigo token: checked before it is used (issue 16, defects 1 and 5) ---
    Case("token-internal-space", MALFORMED_TOKEN, secret={TOKEN: "{hex} {hex}"}),
    Case("token-newline-inside", MALFORMED_TOKEN, secret={TOKEN: "{hex}\n{hex}"}),
    Case("token-crlf-inside", MALFORMED_TOKEN, secret={TOKEN: "{hex}\r\n{hex}"}),
    Case("token-tab-inside", MALFORMED_TOKEN, secret={TOKEN: "{hex}\t{hex}"}),
    Case("token-non-ascii", MALFORMED_TOKEN, secret={TOKEN: "{hex}é{hex}"}),
    Case("token-emoji", MALFORMED_TOKEN, secret={TOKEN: "{hex}\U0001f511"}),
    Case("token-zero-width-space", MALFORMED_TOKEN, secret={TOKEN: "{hex}\u200b{hex}"}),
    Case("token-no-break-space", MALFORMED_TOKEN, secret={TOKEN: "{hex}\u00a0{hex}"}),
    Case("token-bearer-prefix", MALFORMED_TOKEN, secret={TOKEN: "Bearer {token}"}),
    Case("token-bearer-lowercase", MALFORMED_TOKEN, secret={TOKEN: "bearer {token}"}),
    Case("token-700kb", MALFORMED_TOKEN, secret={TOKEN: "{hex700000}"}),
    Case("token-4097-bytes", MALFORMED_TOKEN, secret={TOKEN: "{hex4097}"}),
    Case("token-non-utf8", MALFORMED_TOKEN, secret={TOKEN: b"\xff\xfe{hex}"}),
    Case("token-latin1-byte", MALFORMED_TOKEN, secret={TOKEN: b"{hex}\xe9{hex}"}),
    Case("token-nul-byte", MALFORMED_TOKEN, secret={TOKEN: "{hex}\x00{hex}"}),
    Case("token-escape-sequence", MALFORMED_TOKEN, secret={TOKEN: "\x1b[31m{hex}"}),
    Case("token-delete-char", MALFORMED_TOKEN, secret={TOKEN: "{hex}\x7f{hex}"}),
    Case("token-empty", missing(TOKEN), secret={TOKEN: ""}),
    Case("token-whitespace-only", missing(TOKEN), secret={TOKEN: " \n\t "}),
    Case("token-key-absent", missing(TOKEN), secret={TOKEN: ABSENT}),
    # well-formed but not a live token: Celigo's verdict, and an update is not rolled out
    Case("token-revoked", Reported("CredentialsValid", "TokenRejected", ("{secret}",)),
         secret={TOKEN: "{revoked}"}, update=REJECTED_ON_UPDATE),
    Case("token-4096-bytes-unknown", Reported("CredentialsValid", "TokenRejected", ("{secret}",)),
         secret={TOKEN: "{hex4096}"}, update=REJECTED_ON_UPDATE),
    Case("token-json-pasted", Reported("CredentialsValid", "TokenRejected", ("{secret}",)),
         secret={TOKEN: '{"token":"{hex}"}'}, update=REJECTED_ON_UPDATE),
    Case("token-other-region", Reported("CredentialsValid", "WrongRegion", ("spec.region",)),
         secret={TOKEN: "{eu_token}"}, update=REJECTED_ON_UPDATE),
    Case("token-surrounding-whitespace", Good(), secret={TOKEN: "  {token}\n"}),

    # --- the ConductorOne client id ---
    Case("client-id-malformed", MALFORMED_ID, secret={ID: "not-a-client-id"}),
    Case("client-id-internal-space", MALFORMED_ID, secret={ID: "{client_id} {hex}"}),
    Case("client-id-newline-inside", MALFORMED_ID, secret={ID: "{client_id}\n{hex}"}),
    Case("client-id-non-ascii", MALFORMED_ID, secret={ID: "ünïcode@tenant.conductor.one/{hex}"}),
    Case("client-id-too-long", MALFORMED_ID, secret={ID: "{hex5000}@tenant.conductor.one/x"}),
    Case("client-id-non-utf8", MALFORMED_ID, secret={ID: b"\xff{hex}@tenant.conductor.one/x"}),
    Case("client-id-swapped-with-secret", MALFORMED_ID, secret={ID: "{client_secret}", SECRET: "{client_id}"}),
    Case("client-id-empty", missing(ID), secret={ID: ""}),
    Case("client-id-key-absent", missing(ID), secret={ID: ABSENT}),

    # --- the ConductorOne client secret ---
    Case("client-secret-malformed", MALFORMED_SECRET, secret={SECRET: C1_PREFIX + "bm90LWEta2V5"}),
    Case("client-secret-internal-space", MALFORMED_SECRET, secret={SECRET: "{client_secret} {hex}"}),
    Case("client-secret-wrapped-newline", MALFORMED_SECRET, secret={SECRET: "{client_secret}\n{hex}"}),
    Case("client-secret-non-ascii", MALFORMED_SECRET, secret={SECRET: C1_PREFIX + "é{hex}"}),
    Case("client-secret-too-long", MALFORMED_SECRET, secret={SECRET: C1_PREFIX + "{hex5000}"}),
    Case("client-secret-non-utf8", MALFORMED_SECRET, secret={SECRET: C1_PREFIX.encode() + b"\xff{hex}"}),
    Case("client-secret-bearer-prefix", MALFORMED_SECRET, secret={SECRET: "Bearer {client_secret}"}),
    Case("client-secret-is-a-celigo-token", MALFORMED_SECRET, secret={SECRET: "{token}"}),
    Case("client-secret-empty", missing(SECRET), secret={SECRET: ""}),
    Case("client-secret-whitespace-only", missing(SECRET), secret={SECRET: "\n  \n"}),

    # --- keys: one Secret key may not serve two roles (the client secret went to Celigo as a bearer) ---
    Case("keys-client-secret-as-token", INVALID_KEYS, spec={"credentialsSecretRef": {"keys": {"celigoAccessToken": SECRET}}}),
    Case("keys-token-as-client-secret", INVALID_KEYS, spec={"credentialsSecretRef": {"keys": {"clientSecret": TOKEN}}}),
    Case("keys-client-id-as-secret", INVALID_KEYS, spec={"credentialsSecretRef": {"keys": {"clientSecret": ID}}}),
    Case("keys-one-key-for-all", INVALID_KEYS, secret={"ONE": "{client_secret}"},
         spec={"credentialsSecretRef": {"keys": {"clientId": "ONE", "clientSecret": "ONE", "celigoAccessToken": "ONE"}}}),
    Case("keys-name-a-missing-key", missing("NOPE"), spec={"credentialsSecretRef": {"keys": {"celigoAccessToken": "NOPE"}}}),
    Case("keys-invalid-key-name", Refused("spec.credentialsSecretRef.keys.celigoAccessToken"),
         spec={"credentialsSecretRef": {"keys": {"celigoAccessToken": "BAD KEY"}}}),

    # --- the Secret itself ---
    Case("secret-missing", Reported("CredentialsValid", "SecretNotFound", ("{secret}",)), secret_exists=False),
    Case("secret-not-opted-in", Reported("CredentialsValid", "SecretNotOptedIn", (LABEL,)), label=None),
    Case("secret-opt-in-label-yes", Reported("CredentialsValid", "SecretNotOptedIn", (LABEL,)), label="yes"),
    Case("secret-opt-in-label-capital-true", Reported("CredentialsValid", "SecretNotOptedIn", (LABEL,)), label="True"),
    Case("secret-ref-invalid-name", Refused("spec.credentialsSecretRef.name"), spec={"credentialsSecretRef": {"name": "Celigo_Creds"}}),
    Case("secret-ref-empty-name", Refused("spec.credentialsSecretRef.name"), spec={"credentialsSecretRef": {"name": ""}}),

    # --- region ---
    Case("region-eu-with-a-us-token", Reported("CredentialsValid", "WrongRegion", ("spec.region",)), spec={"region": "eu"},
         update=Reported("CeligoReachable", "WrongRegion", ("spec.region",))),
    Case("region-unknown", Refused("spec.region"), spec={"region": "ap"}),
    Case("region-uppercase", Refused("spec.region"), spec={"region": "US"}),

    # --- resources (defect 2: an int quantity crashed the reconcile) ---
    Case("cpu-int", Good({"resources": {"requests": {"cpu": "1"}}}), spec={"resources": {"requests": {"cpu": 1}}}),
    Case("memory-int", Good(), spec={"resources": {"limits": {"memory": 1073741824}}}),
    Case("cpu-lots", Refused("spec.resources.requests.cpu"), spec={"resources": {"requests": {"cpu": "lots"}}}),
    Case("memory-negative", Refused("spec.resources.limits.memory"), spec={"resources": {"limits": {"memory": "-1Gi"}}}),
    Case("memory-unit-gb", Refused("spec.resources.limits.memory"), spec={"resources": {"limits": {"memory": "1GB"}}}),
    Case("cpu-negative-int", Refused("spec.resources.requests.cpu"), spec={"resources": {"requests": {"cpu": -1}}}),
    Case("cpu-float", Refused("spec.resources.requests.cpu"), spec={"resources": {"requests": {"cpu": 0.5}}}),
    Case("resources-typo-field", Refused("spec.resources.requets"), spec={"resources": {"requets": {"cpu": "1"}}}),
    Case("cpu-requests-above-limits", invalid("spec.resources"),
         spec={"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}),
    Case("memory-requests-above-limits", invalid("spec.resources"),
         spec={"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}}),

    # --- affinity and tolerations, typed from the Kubernetes models ---
    Case("affinity-unknown-field", Refused("spec.affinity.foo"), spec={"affinity": {"foo": "bar"}}),
    Case("affinity-node-affinity-garbage", Refused("spec.affinity.nodeAffinity"), spec={"affinity": {"nodeAffinity": "garbage"}}),
    Case("affinity-terms-not-a-list", Refused("spec.affinity.nodeAffinity"),
         spec={"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": "x"}}}}),
    Case("affinity-weight-not-a-number", Refused("spec.affinity.podAntiAffinity"),
         spec={"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
             {"weight": "high", "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}}),
    Case("affinity-a-list", Refused("spec.affinity"), spec={"affinity": ["nodeAffinity"]}),
    Case("toleration-bad-operator", Refused("spec.tolerations[0].operator"), spec={"tolerations": [{"key": "k", "operator": "Maybe"}]}),
    Case("toleration-seconds-words", Refused("spec.tolerations[0].tolerationSeconds"),
         spec={"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": "forever"}]}),
    Case("toleration-key-invalid", Refused("spec.tolerations[0].key"), spec={"tolerations": [{"key": "bad key", "operator": "Exists"}]}),
    Case("affinity-namespace-selector", Refused("namespaceSelector"),
         spec={"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
             {"topologyKey": "kubernetes.io/hostname", "namespaceSelector": {}}]}}}),
    Case("toleration-unknown-field", Refused("spec.tolerations[0].keyy"), spec={"tolerations": [{"keyy": "k", "operator": "Exists"}]}),
    Case("tolerations-33", Refused("spec.tolerations"), spec={"tolerations": [{"key": f"k{i}", "operator": "Exists"} for i in range(33)]}),

    # --- durations (defect 2: OverflowError; defect 5: 999999h accepted) ---
    Case("interval-400-digits", Refused("spec.healthCheck.interval"), spec={"healthCheck": {"interval": "9" * 400 + "s"}}),
    Case("interval-999999h", Refused("spec.healthCheck.interval"), spec={"healthCheck": {"interval": "999999h"}}),
    Case("interval-99999999999h", Refused("spec.healthCheck.interval"), spec={"healthCheck": {"interval": "99999999999h"}}),
    Case("interval-over-a-year", invalid("spec.healthCheck.interval"), spec={"healthCheck": {"interval": "9000h"}}),
    Case("interval-10s", Refused("spec.healthCheck.interval"), spec={"healthCheck": {"interval": "10s"}}),
    Case("interval-in-words", Refused("spec.healthCheck.interval"), spec={"healthCheck": {"interval": "5 minutes"}}),
    Case("interval-leading-zero", Refused("spec.healthCheck.interval"), spec={"healthCheck": {"interval": "05m"}}),
    Case("interval-negative", Refused("spec.healthCheck.interval"), spec={"healthCheck": {"interval": "-5m"}}),
    Case("celigo-schedule-99999999999h", Refused("spec.rotation.celigo.schedule"),
         spec={"rotation": {"celigo": {"schedule": "99999999999h"}}}),
    Case("celigo-schedule-400-digits", Refused("spec.rotation.celigo.schedule"),
         spec={"rotation": {"celigo": {"schedule": "9" * 400 + "m"}}}),
    Case("c1-schedule-over-a-year", invalid("spec.rotation.conductorOne.schedule"),
         spec={"rotation": {"conductorOne": {"schedule": "99999h"}}}),
    Case("expiry-warning-huge", Refused("spec.rotation.expiryWarning"), spec={"rotation": {"expiryWarning": "999999999h"}}),
    Case("expiry-warning-over-a-year", invalid("spec.rotation.expiryWarning"), spec={"rotation": {"expiryWarning": "10000h"}}),
    Case("revoke-timeout-huge", Refused("spec.rotation.revokeOnDeleteTimeout"),
         spec={"rotation": {"revokeOnDeleteTimeout": "1000000h"}}),

    # --- sizes: no CeligoConnector above ~64 KiB (defect 3: a 300 KB spec could never be deleted) ---
    Case("pod-annotations-300kb-create", Refused("spec.podAnnotations"), spec={"podAnnotations": {"big": "x" * 300_000}}, verb="create"),
    Case("pod-annotations-300kb-apply", Refused("spec.podAnnotations"), spec={"podAnnotations": {"big": "x" * 300_000}}),
    Case("extra-env-900kb-create", Refused("spec.extraEnv"),
         spec={"extraEnv": [{"name": f"V{i}", "value": "x" * 4500} for i in range(200)]}, verb="create"),
    Case("extra-env-900kb-apply", Refused("spec.extraEnv"), spec={"extraEnv": [{"name": f"V{i}", "value": "x" * 4500} for i in range(200)]}),
    Case("extra-env-value-5000", Refused("spec.extraEnv[0].value"), spec={"extraEnv": [{"name": "NOTE", "value": "x" * 5000}]}),
    Case("extra-env-65-items", Refused("spec.extraEnv"), spec={"extraEnv": [{"name": f"V{i}", "value": "1"} for i in range(65)]}),
    Case("args-33-items", Refused("spec.args"), spec={"args": ["--log-level=info"] * 33}),
    Case("args-item-300-chars", Refused("spec.args[0]"), spec={"args": ["x" * 300]}),
    Case("pod-labels-33", Refused("spec.podLabels"), spec={"podLabels": many(33)}),
    Case("pod-annotations-33", Refused("spec.podAnnotations"), spec={"podAnnotations": many(33)}),
    Case("node-selector-33", Refused("spec.nodeSelector"), spec={"nodeSelector": many(33)}),
    Case("pod-label-value-64", Refused("spec.podLabels"), spec={"podLabels": {"team": "a" * 64}}),
    Case("node-selector-value-64", Refused("spec.nodeSelector"), spec={"nodeSelector": {"pool": "a" * 64}}),
    Case("pod-annotation-value-513", Refused("spec.podAnnotations"), spec={"podAnnotations": {"note": "x" * 513}}),
    Case("extra-env-33-items", Refused("spec.extraEnv"), spec={"extraEnv": [{"name": f"V{i}", "value": "1"} for i in range(33)]}),
    Case("extra-env-value-513", Refused("spec.extraEnv[0].value"), spec={"extraEnv": [{"name": "NOTE", "value": "x" * 513}]}),
    Case("extra-env-value-newline", Refused("spec.extraEnv[0].value"), spec={"extraEnv": [{"name": "NOTE", "value": "a\nb"}]}),
    Case("args-item-newline", Refused("spec.args[0]"), spec={"args": ["--skip-full-sync\n--client-secret=x"]}),
    Case("resources-9-names", Refused("spec.resources.requests"), spec={"resources": {"requests": many(9, "1")}}),
    # map keys: a structural schema cannot bound them, the spec model does (16-core, vocab deviation)
    Case("pod-annotation-key-300", invalid("spec.podAnnotations"), spec={"podAnnotations": {"k" * 300: "v"}}),
    Case("image-pull-secrets-17", Refused("spec.imagePullSecrets"), spec={"imagePullSecrets": [f"pull-{i}" for i in range(17)]}),
    Case("host-id-70-chars", Refused("spec.hostId"), spec={"hostId": "h" * 70}),

    # --- label and selector syntax (the Deployment would be refused) ---
    Case("pod-label-key-invalid", invalid("spec.podLabels"), spec={"podLabels": {"bad key!": "x"}}),
    Case("pod-label-value-invalid", Refused("spec.podLabels.team"), spec={"podLabels": {"team": "has space"}}),
    Case("node-selector-key-invalid", invalid("spec.nodeSelector"), spec={"nodeSelector": {"bad key!": "x"}}),
    Case("pod-annotation-key-invalid", invalid("spec.podAnnotations"), spec={"podAnnotations": {"bad key": "x"}}),

    # --- spec.args: a documented allowlist; nothing that sets a credential, file, URL or endpoint (defect 4) ---
    Case("args-client-secret", args_refused("--client-secret"), spec={"args": ["--client-secret", "{hex}"]}),
    Case("args-client-secret-equals", args_refused("--client-secret"), spec={"args": ["--client-secret={hex}"]}),
    Case("args-client-secret-uppercase", args_refused("--CLIENT-SECRET"), spec={"args": ["--CLIENT-SECRET={hex}"]}),
    Case("args-client-id", args_refused("--client-id"), spec={"args": ["--client-id", "x@attacker.example/y"]}),
    Case("args-access-token", args_refused("--celigo-access-token"), spec={"args": ["--celigo-access-token={hex}"]}),
    Case("args-base-url", args_refused("--base-url"), spec={"args": ["--base-url=https://celigo.attacker.example"]}),
    Case("args-file", args_refused("--file"), spec={"args": ["--file", "/tmp/sync.c1z"]}),
    Case("args-file-short", invalid("spec.args", "not a --flag"), spec={"args": ["-f", "/tmp/sync.c1z"]}),
    Case("args-bare-word", invalid("spec.args", "not a --flag"), spec={"args": ["sync"]}),
    Case("args-region", args_refused("--region"), spec={"args": ["--region=eu"]}),
    Case("args-skip-full-sync", Good({"args": ["--skip-full-sync"]}), spec={"args": ["--skip-full-sync"]}),
    Case("args-otel-endpoint", args_refused("--otel-collector-endpoint"),
         spec={"args": ["--otel-collector-endpoint=https://collector.attacker.example"]}),
    Case("args-service", args_refused("service"), spec={"args": ["service"]}),
    Case("args-unknown-flag", args_refused("--frobnicate"), spec={"args": ["--frobnicate"]}),

    # --- spec.extraEnv: no BATON_*, proxy, TLS trust or loader variables (defect 4) ---
    Case("env-baton-client-secret", env_refused("BATON_CLIENT_SECRET"), spec={"extraEnv": [{"name": "BATON_CLIENT_SECRET", "value": "{hex}"}]}),
    Case("env-baton-base-url", env_refused("BATON_BASE_URL"), spec={"extraEnv": [{"name": "BATON_BASE_URL", "value": "https://attacker.example"}]}),
    Case("env-baton-log-level", env_refused("BATON_LOG_LEVEL"), spec={"extraEnv": [{"name": "BATON_LOG_LEVEL", "value": "debug"}]}),
    Case("env-https-proxy", env_refused("HTTPS_PROXY"), spec={"extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.attacker.example:3128"}]}),
    Case("env-http-proxy-lowercase", env_refused("http_proxy"), spec={"extraEnv": [{"name": "http_proxy", "value": "http://proxy.attacker.example:3128"}]}),
    Case("env-all-proxy", env_refused("ALL_PROXY"), spec={"extraEnv": [{"name": "ALL_PROXY", "value": "socks5://attacker.example:1080"}]}),
    Case("env-no-proxy", env_refused("NO_PROXY"), spec={"extraEnv": [{"name": "NO_PROXY", "value": "*"}]}),
    Case("env-ssl-cert-file", env_refused("SSL_CERT_FILE"), spec={"extraEnv": [{"name": "SSL_CERT_FILE", "value": "/tmp/attacker.pem"}]}),
    Case("env-ssl-cert-dir", env_refused("SSL_CERT_DIR"), spec={"extraEnv": [{"name": "SSL_CERT_DIR", "value": "/tmp"}]}),
    Case("env-ld-preload", env_refused("LD_PRELOAD"), spec={"extraEnv": [{"name": "LD_PRELOAD", "value": "/tmp/evil.so"}]}),
    Case("env-https-proxy-mixed-case", env_refused("Https_Proxy"), spec={"extraEnv": [{"name": "Https_Proxy", "value": "http://proxy.attacker.example:3128"}]}),
    Case("env-requests-ca-bundle", env_refused("REQUESTS_CA_BUNDLE"), spec={"extraEnv": [{"name": "REQUESTS_CA_BUNDLE", "value": "/tmp/attacker.pem"}]}),
    Case("env-godebug", env_refused("GODEBUG"), spec={"extraEnv": [{"name": "GODEBUG", "value": "x509ignoreCN=1"}]}),
    Case("env-plain-variable", Good({"env": [{"name": "TZ", "value": "UTC"}]}), spec={"extraEnv": [{"name": "TZ", "value": "UTC"}]}),
    Case("env-ld-library-path", env_refused("LD_LIBRARY_PATH"), spec={"extraEnv": [{"name": "LD_LIBRARY_PATH", "value": "/tmp"}]}),
    Case("env-duplicate-name", invalid("spec.extraEnv"), spec={"extraEnv": [{"name": "TZ", "value": "UTC"}, {"name": "TZ", "value": "CET"}]}),
    Case("env-invalid-name", Refused("spec.extraEnv[0].name"), spec={"extraEnv": [{"name": "1BAD", "value": "x"}]}),
    Case("env-value-from-secret", Refused("spec.extraEnv[0].valueFrom"),
         spec={"extraEnv": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "other", "key": "k"}}}]}),

    # --- images: the baton-celigo repositories only (defect 4: baton-github went Ready) ---
    Case("image-baton-github", IMAGE_REFUSED, spec={"image": "ghcr.io/conductorone/baton-github:latest"}),
    Case("image-ecr-other-connector", IMAGE_REFUSED, spec={"image": "public.ecr.aws/conductorone/baton-okta:v0.1.0"}),
    Case("image-lookalike-suffix", IMAGE_REFUSED, spec={"image": "ghcr.io/conductorone/baton-celigo-evil:v1"}),
    Case("image-lookalike-double-o", IMAGE_REFUSED, spec={"image": "ghcr.io/conductorone/baton-celigoo:v1"}),
    Case("image-lookalike-subpath", IMAGE_REFUSED, spec={"image": "ghcr.io/conductorone/baton-celigo/evil:v1"}),
    Case("image-lookalike-org", IMAGE_REFUSED, spec={"image": "ghcr.io/conductorone-evil/baton-celigo:v1"}),
    Case("image-lookalike-host", IMAGE_REFUSED, spec={"image": "ghcr.io.attacker.example/conductorone/baton-celigo:v1"}),
    Case("image-registry-port", IMAGE_REFUSED, spec={"image": "ghcr.io:443/conductorone/baton-celigo:v1"}),
    Case("image-docker-hub", IMAGE_REFUSED, spec={"image": "docker.io/library/busybox:latest"}),
    Case("image-bare-name", IMAGE_REFUSED, spec={"image": "busybox"}),
    Case("image-uppercase", Refused("spec.image"), spec={"image": "GHCR.IO/conductorone/baton-celigo:v1"}),
    Case("image-with-flags", Refused("spec.image"), spec={"image": "ghcr.io/conductorone/baton-celigo:v1 --privileged"}),
    Case("image-digest", Good({"image": f"public.ecr.aws/conductorone/baton-celigo@{DIGEST}"}),
         spec={"image": f"public.ecr.aws/conductorone/baton-celigo@{DIGEST}"}),
    Case("image-ghcr-tag", Good({"image": "ghcr.io/conductorone/baton-celigo:v0.1.8"}),
         spec={"image": "ghcr.io/conductorone/baton-celigo:v0.1.8"}),

    # --- other schema refusals ---
    Case("replicas-11", Refused("spec.replicas"), spec={"replicas": 11}),
    Case("replicas-negative", Refused("spec.replicas"), spec={"replicas": -1}),
    Case("health-port-80", Refused("spec.healthServer.port"), spec={"healthServer": {"enabled": True, "port": 80}}),
    Case("log-level-trace", Refused("spec.logLevel"), spec={"logLevel": "trace"}),
    Case("suspend-yes", Refused("spec.suspend"), spec={"suspend": "yes"}),
    Case("unknown-spec-field", Refused("spec.replica"), spec={"replica": 2}),
    Case("c1-app-id-with-slash", Refused("spec.conductorOne.appId"),
         spec={"conductorOne": {"appId": "a/b", "connectorId": "c", "credentialsSecretRef": {"name": "c1-api"}}}),

    # --- names (only a new connector has a name to choose) ---
    Case("name-253-chars", Good(), name="n" * 253, modes=(NEW,)),
    Case("name-254-chars", Refused("metadata.name"), name="n" * 254, modes=(NEW,)),
    Case("name-uppercase", Refused("metadata.name"), name="Celigo-Prod", modes=(NEW,)),
]
# fmt: on

NEW_CASES = [c for c in CASES if NEW in c.modes]
UPDATE_CASES = [c for c in CASES if UPDATE in c.modes]
