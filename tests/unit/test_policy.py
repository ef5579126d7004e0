"""The pod policy (policy.py): each rule, its message (field named, no value), and how configuration widens it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from celigo_operator import api, manifests
from celigo_operator.config import DEFAULT_IMAGE, OperatorConfig, image_repository
from celigo_operator.policy import MANAGED_FLAGS, MANAGED_WHY, check_config, check_spec, flag_of

CFG = OperatorConfig()
DIGEST = "@sha256:" + "a" * 64


def spec(**fields: Any) -> api.CeligoConnectorSpec:
    return api.CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": "c"}, **fields})


def refusal(config: OperatorConfig = CFG, **fields: Any) -> tuple[str, str]:
    problem = check_spec(spec(**fields), config)
    assert problem is not None, f"accepted: {fields}"
    assert problem.type == "Reconciled" and problem.status == "False"
    return problem.reason, problem.message


def test_a_plain_spec_and_the_default_image_pass() -> None:
    assert check_spec(spec(), CFG) is None
    assert CFG.image_allowed(DEFAULT_IMAGE)


# --- spec.image ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "public.ecr.aws/conductorone/baton-celigo:v0.1.7",
        "public.ecr.aws/conductorone/baton-celigo" + DIGEST,
        "public.ecr.aws/conductorone/baton-celigo:v0.1.7" + DIGEST,
        "ghcr.io/conductorone/baton-celigo:latest",
        "ghcr.io/conductorone/baton-celigo" + DIGEST,
    ],
)
def test_baton_celigo_repositories_by_tag_or_digest_are_allowed(image: str) -> None:
    assert check_spec(spec(image=image), CFG) is None


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/conductorone/baton-github:latest",  # another ConductorOne connector: went Ready before
        "ghcr.io/conductorone/baton-celigo-evil:v1",  # a string prefix of an allowed repository
        "public.ecr.aws/conductorone/baton-celigo/inner:v1",  # a repository below an allowed one
        "ghcr.io/conductorone/baton-celigo.evil.io/x:v1",
        "docker.io/conductorone/baton-celigo:v1",  # same name, another registry
        "ghcr.io/evil/baton-celigo" + DIGEST,
        "ghcr.io:443/conductorone/baton-celigo:v1",  # same path behind a port is another registry host
    ],
)
def test_other_repositories_are_refused_as_image_not_allowed(image: str) -> None:
    reason, message = refusal(image=image)
    assert reason == "ImageNotAllowed"
    assert f"spec.image {image}" in message and "CELIGO_OPERATOR_IMAGE_ALLOWLIST" in message


def test_image_repository_strips_tag_and_digest_but_not_a_registry_port() -> None:
    assert image_repository("reg:5000/a/b:v1" + DIGEST) == "reg:5000/a/b"
    assert image_repository("reg:5000/a/b") == "reg:5000/a/b"
    assert image_repository("a/b" + DIGEST) == "a/b"


def test_configuration_widens_the_image_allowlist_exactly_or_below_a_path() -> None:
    cfg = replace(
        CFG, image_allowlist=(*CFG.image_allowlist, "registry.corp/mirror/*", "registry.corp/c1/baton")
    )
    assert check_spec(spec(image="registry.corp/mirror/baton-celigo:v1"), cfg) is None
    assert check_spec(spec(image="registry.corp/mirror/team/baton-celigo:v1"), cfg) is None
    assert check_spec(spec(image="registry.corp/c1/baton" + DIGEST), cfg) is None
    assert refusal(cfg, image="registry.corp/mirrorx/baton-celigo:v1")[0] == "ImageNotAllowed"
    assert refusal(cfg, image="registry.corp/c1/baton-evil:v1")[0] == "ImageNotAllowed"


# --- spec.args ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [["--skip-full-sync"], ["--skip-full-sync=true"], ["--skip-full-sync=false"]]
)
def test_allowlisted_flags_pass(args: list[str]) -> None:
    assert check_spec(spec(args=args), CFG) is None


def test_service_is_refused_with_the_reason() -> None:
    reason, message = refusal(args=["service"])
    assert reason == "InvalidSpec" and message.startswith("spec.args: `service` is refused")
    assert "no `service` subcommand" in message and "service mode by itself" in message


@pytest.mark.parametrize(
    ("item", "flag", "why"),
    [
        ("--client-secret=s3cr3t-value", "--client-secret", "sets a credential"),
        ("--client-id=someone@tenant/x", "--client-id", "sets a credential"),
        ("--celigo-access-token=s3cr3t-value", "--celigo-access-token", "sets a credential"),
        ("--base-url=https://evil.example.com", "--base-url", "sets a URL"),
        ("--file=/tmp/out.c1z", "--file", "sets a file"),
        ("--health-check-bind-address=0.0.0.0", "--health-check-bind-address", "sets an endpoint"),
        ("--region=eu", "--region", "is spec.region"),
        ("--log-level=debug", "--log-level", "is spec.logLevel"),
    ],
)
def test_flags_the_operator_sets_are_refused_and_their_values_never_shown(
    item: str, flag: str, why: str
) -> None:
    reason, message = refusal(args=[item])
    assert reason == "InvalidSpec" and message.startswith(f"spec.args: {flag} is refused: it {why}")
    assert item.split("=", 1)[1] not in message


@pytest.mark.parametrize(
    ("flag", "kind"),
    [
        ("--otel-collector-endpoint", "sets a URL or an endpoint"),
        ("--external-resource-c1z", "sets a file"),
        ("--ticketing", None),
        ("--some-api-key", "sets a credential"),
    ],
)
def test_flags_off_the_allowlist_are_refused_with_the_allowlist_and_how_to_widen(
    flag: str, kind: str | None
) -> None:
    reason, message = refusal(args=[f"{flag}=v4lue"])
    assert reason == "InvalidSpec" and f"spec.args: {flag} is not allowed" in message
    assert (f"(it {kind})" in message) if kind else "(it " not in message
    assert "allowed flags: --skip-full-sync" in message and "CELIGO_OPERATOR_ALLOWED_ARGS" in message
    assert "v4lue" not in message


@pytest.mark.parametrize(
    "item",
    [
        "sync",
        "-f",
        "-f=/tmp/x",
        "--",
        "---client-secret",
        "s3cr3t-value",
        "--client-secret s3cr3t-value",
        "--skip-full-sync\n--client-secret=s3cr3t-value",
        "--skip-full-sync\ts3cr3t-value",
    ],
)
def test_anything_but_a_long_flag_in_one_item_is_refused_without_echoing_it(item: str) -> None:
    reason, message = refusal(args=["--skip-full-sync", item])
    assert reason == "InvalidSpec" and "spec.args: item 1 is not a --flag" in message
    assert "s3cr3t" not in message


def test_a_flag_and_its_value_in_two_items_is_refused() -> None:
    _, message = refusal(args=["--client-secret", "s3cr3t-value"])
    assert "--client-secret is refused" in message and "item 1 is not a --flag" in message
    assert "s3cr3t" not in message


def test_many_problems_are_counted_after_the_first_few() -> None:
    _, message = refusal(args=[f"--x{i}" for i in range(6)])
    assert "--x0" in message and "--x2" in message and "--x3" not in message and "and 3 more" in message


def test_configuration_widens_the_flag_allowlist() -> None:
    cfg = replace(CFG, allowed_args=(*CFG.allowed_args, "--otel-collector-endpoint"))
    assert check_spec(spec(args=["--otel-collector-endpoint=http://collector:4317"]), cfg) is None
    assert refusal(cfg, args=["--client-secret=x"])[0] == "InvalidSpec"  # managed: never, configured or not
    only = replace(CFG, allowed_args=())
    assert "allowed flags: (none)" in refusal(only, args=["--skip-full-sync"])[1]


# --- spec.extraEnv ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("BATON_CLIENT_SECRET", "managed by the operator"),
        ("BATON_BASE_URL", "managed by the operator"),
        ("baton_client_id", "managed by the operator"),
        ("BATON_OTEL_COLLECTOR_ENDPOINT", "BATON_* variables"),
        ("BATON_SKIP_FULL_SYNC", "BATON_* variables"),
        ("HTTP_PROXY", "proxy variable"),
        ("HTTPS_PROXY", "proxy variable"),
        ("https_proxy", "proxy variable"),
        ("ALL_PROXY", "proxy variable"),
        ("no_proxy", "proxy variable"),
        ("SSL_CERT_FILE", "certificate authorities"),
        ("SSL_CERT_DIR", "certificate authorities"),
        ("REQUESTS_CA_BUNDLE", "certificate authorities"),
        ("CURL_CA_BUNDLE", "certificate authorities"),
        ("LD_PRELOAD", "loader variables"),
        ("LD_LIBRARY_PATH", "loader variables"),
        ("GODEBUG", "Go runtime"),
    ],
)
def test_refused_variables_name_the_field_and_the_variable(name: str, why: str) -> None:
    reason, message = refusal(extraEnv=[{"name": "TZ", "value": "UTC"}, {"name": name, "value": "v4lue"}])
    assert reason == "InvalidSpec" and message.startswith(f"spec.extraEnv: {name} ")
    assert why in message and "v4lue" not in message


def test_harmless_variables_pass() -> None:
    assert (
        check_spec(spec(extraEnv=[{"name": "TZ", "value": "UTC"}, {"name": "GOMAXPROCS", "value": "1"}]), CFG)
        is None
    )


def test_configuration_allows_a_proxy_but_never_a_managed_variable() -> None:
    cfg = replace(CFG, allowed_extra_env=("HTTPS_PROXY", "NO_PROXY", "BATON_SKIP_FULL_SYNC"))
    env = [
        {"name": "https_proxy", "value": "http://proxy.corp:3128"},
        {"name": "NO_PROXY", "value": ".svc"},
        {"name": "BATON_SKIP_FULL_SYNC", "value": "true"},
    ]
    assert check_spec(spec(extraEnv=env), cfg) is None
    assert "HTTP_PROXY is refused" in refusal(cfg, extraEnv=[{"name": "HTTP_PROXY", "value": "x"}])[1]
    managed = replace(CFG, allowed_extra_env=("BATON_CLIENT_SECRET",))
    assert (
        "managed by the operator"
        in refusal(managed, extraEnv=[{"name": "BATON_CLIENT_SECRET", "value": "x"}])[1]
    )


def test_a_variable_named_twice_is_refused() -> None:
    _, message = refusal(extraEnv=[{"name": "TZ", "value": "UTC"}, {"name": "TZ", "value": "CET"}])
    assert message == "spec.extraEnv: TZ is named twice."


# --- spec.resources ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requests", "limits", "named"),
    [
        ({"cpu": "2"}, {"cpu": "500m"}, "requests.cpu 2 is above limits.cpu 500m"),
        ({"cpu": 2}, {"cpu": "1"}, "requests.cpu 2 is above limits.cpu 1"),
        ({"cpu": "1001m"}, {"cpu": "1"}, "requests.cpu 1001m is above limits.cpu 1"),
        ({"memory": "1Gi"}, {"memory": "512Mi"}, "requests.memory 1Gi is above limits.memory 512Mi"),
        ({"memory": "1G"}, {"memory": "999999999"}, "requests.memory 1G is above limits.memory 999999999"),
        ({"memory": "2e9"}, {"memory": "1Gi"}, "requests.memory 2e9 is above limits.memory 1Gi"),
    ],
)
def test_requests_above_limits_are_refused_naming_the_resource(
    requests: dict[str, Any], limits: dict[str, Any], named: str
) -> None:
    reason, message = refusal(resources={"requests": requests, "limits": limits})
    assert reason == "InvalidSpec"
    assert message.startswith("spec.resources: ") and named in message


def test_every_resource_above_its_limit_is_named() -> None:
    _, message = refusal(
        resources={"requests": {"cpu": "2", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    )
    assert "requests.cpu" in message and "requests.memory" in message


@pytest.mark.parametrize(
    "resources",
    [
        {"requests": {"cpu": "500m"}, "limits": {"cpu": "0.5"}},  # equal, spelt differently
        {"requests": {"cpu": "999m", "memory": "1000Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        {"requests": {"memory": "1Gi"}, "limits": {"memory": "1073741824"}},
        {"requests": {"cpu": "4"}},  # no limit to exceed
        {"limits": {"memory": "64Mi"}},
        {"requests": {"cpu": "2"}, "limits": {"memory": "1Gi"}},  # different resources
    ],
)
def test_requests_at_or_below_limits_pass(resources: dict[str, Any]) -> None:
    assert check_spec(spec(resources=resources), CFG) is None


# --- what the policy covers ---------------------------------------------------------------------------


def test_every_variable_the_operator_sets_has_a_reason_and_a_refused_flag() -> None:
    assert set(MANAGED_WHY) == set(manifests.MANAGED_ENV)
    assert flag_of("BATON_HEALTH_CHECK_BIND_ADDRESS") == "--health-check-bind-address"
    assert set(MANAGED_FLAGS) >= {
        "--client-id",
        "--client-secret",
        "--celigo-access-token",
        "--base-url",
        "--file",
    }
    assert not set(CFG.allowed_args) & set(MANAGED_FLAGS)


def test_a_pod_built_from_an_accepted_spec_carries_only_what_the_policy_allows() -> None:
    s = spec(args=["--skip-full-sync"], extraEnv=[{"name": "TZ", "value": "UTC"}])
    assert check_spec(s, CFG) is None
    dep = manifests.build_deployment(manifests.Owner("c", "ns", "uid"), s, CFG, "sec", "v" * 32)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["--skip-full-sync"]
    assert image_repository(container["image"]) in CFG.image_allowlist


# --- operator configuration ---------------------------------------------------------------------------


def test_the_default_configuration_is_consistent() -> None:
    assert check_config(CFG) == []


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"image_allowlist": ("ghcr.io/conductorone/",)}, "is not a repository"),
        ({"image_allowlist": ("ghcr.io/conductorone/baton-celigo:v1",)}, "is not a repository"),
        (
            {"default_image": "registry.corp/baton-celigo:v1"},
            "DEFAULT_IMAGE registry.corp/baton-celigo:v1 is not in",
        ),
        ({"allowed_args": ("--client-secret",)}, "may not allow --client-secret"),
        ({"allowed_args": ("skip-full-sync",)}, "is not a flag name"),
        ({"allowed_args": ("--x=1",)}, "is not a flag name"),
        ({"allowed_extra_env": ("BATON_CELIGO_ACCESS_TOKEN",)}, "may not allow BATON_CELIGO_ACCESS_TOKEN"),
        ({"allowed_extra_env": ("NOT-A-NAME",)}, "is not a variable name"),
    ],
)
def test_configuration_that_would_mislead_is_refused_with_the_setting_named(
    change: dict, expect: str
) -> None:
    problems = check_config(replace(CFG, **change))
    assert problems and expect in problems[0] and all(p.startswith("CELIGO_OPERATOR_") for p in problems)


def test_settings_parse_from_the_environment() -> None:
    cfg = OperatorConfig.from_env(
        {
            "CELIGO_OPERATOR_ALLOWED_ARGS": "--skip-full-sync, --otel-collector-endpoint",
            "CELIGO_OPERATOR_ALLOWED_EXTRA_ENV": "HTTPS_PROXY,NO_PROXY",
            "CELIGO_OPERATOR_IMAGE_ALLOWLIST": "registry.corp/mirror/*",
            "CELIGO_OPERATOR_DEFAULT_IMAGE": "registry.corp/mirror/baton-celigo:v0.1.7",
        }
    )
    assert cfg.allowed_args == ("--skip-full-sync", "--otel-collector-endpoint")
    assert cfg.allowed_extra_env == ("HTTPS_PROXY", "NO_PROXY")
    assert check_config(cfg) == []


# --- doctor --policy (pure part) ----------------------------------------------------------------------


def test_doctor_lists_refusals_and_specs_the_models_no_longer_accept() -> None:
    from celigo_operator.doctor import policy_refusals

    def obj(name: str, **spec: Any) -> dict[str, Any]:
        return {
            "metadata": {"namespace": "ns", "name": name},
            "spec": {"credentialsSecretRef": {"name": "c"}, **spec},
        }

    stored = [
        obj("good"),
        obj("svc", args=["service"]),
        obj("old", region="mars"),  # stored under an older CRD, refused by this release's models
    ]
    refused = policy_refusals(stored, CFG)
    assert [(key, reason) for key, reason, _ in refused] == [
        ("ns/svc", "InvalidSpec"),
        ("ns/old", "InvalidSpec"),
    ]
    assert refused[1][2].startswith("spec.region: ")
