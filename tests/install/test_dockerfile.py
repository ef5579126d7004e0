"""The Dockerfile's key properties, read from the file (no image can be built here)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field

import pytest

from celigo_operator.cli import parser
from celigo_operator.config import OperatorConfig
from install.installkit import DEPLOY, ROOT, kustomize, the

SECRETISH = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE)", re.I)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [arg for o, arg in self.instructions if o == op]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages: instructions with line continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op, rest = op.upper(), rest.strip()
        if op == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
            assert m, line
            stages.append(Stage(m.group(1), m.group(2)))
        elif not stages:
            assert op == "ARG", f"only ARG may precede FROM: {line}"
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append((op, rest))
    return args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse((ROOT / "Dockerfile").read_text())


def resolve(base: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)


def test_multi_stage_on_a_small_python_311(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    args, stages = dockerfile
    assert len(stages) >= 2
    for stage in stages:
        image = resolve(stage.base, args)
        assert re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*(@sha256:[0-9a-f]{64})?", image), image
    builder = stages[0]
    assert builder.name and any("pip wheel" in r for r in builder.all("RUN")), "the wheel is built in a builder"


def test_final_stage_has_no_build_tools_and_only_copies_the_venv(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    _, stages = dockerfile
    final = stages[-1]
    assert final.all("RUN") == [], "the final stage runs nothing: no package manager, no compiler"
    assert final.all("ADD") == []
    copies = final.all("COPY")
    assert copies and all(c.startswith(f"--from={stages[0].name} ") for c in copies), copies
    builder_run = " ".join(stages[0].all("RUN"))
    assert "pip uninstall --yes pip setuptools" in builder_run, "the copied venv carries no pip/setuptools"


def test_non_root_numeric_user_and_read_only_friendly(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    _, stages = dockerfile
    final = stages[-1]
    users = final.all("USER")
    assert len(users) == 1 and re.fullmatch(r"65532(:65532)?", users[0]), users
    env = " ".join(final.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env, "nothing may write .pyc files into a read-only image"
    assert "HOME=/tmp" in env, "HOME must be the writable emptyDir, not a path in the image"
    assert "compileall" in " ".join(stages[0].all("RUN")), "bytecode is compiled at build time instead"


def test_entrypoint_and_cmd_are_the_cli(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    _, stages = dockerfile
    final = stages[-1]
    entrypoint = json.loads(final.all("ENTRYPOINT")[-1])
    cmd = json.loads(final.all("CMD")[-1])
    assert entrypoint == ["celigo-operator"] and cmd == ["run", "--all-namespaces"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["celigo-operator"] == "celigo_operator.cli:main"
    parsed = parser().parse_args(cmd)
    assert parsed.command == "run" and parsed.all_namespaces
    dep = the(kustomize(DEPLOY), "Deployment", "celigo-operator")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container, "the Deployment keeps the image's ENTRYPOINT"
    assert parser().parse_args(container["args"]).command == "run"


def test_no_secrets_baked_in(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    args, stages = dockerfile
    for stage in stages:
        for op, rest in stage.instructions:
            if op in ("ENV", "ARG", "LABEL"):
                assert not SECRETISH.search(rest), f"{op} {rest}"
            if op in ("COPY", "ADD"):
                assert not re.search(r"kubeconfig|\.env\b|\.pem|\.key\b|\.demo|credentials", rest, re.I), rest
    assert not any(SECRETISH.search(k) for k in args)
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :][:1] == ["*"], ".dockerignore starts from nothing"
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "operator/"}
    assert {"**/.env", "**/kubeconfig*", "**/*.pem"} <= set(ignore)


def test_exposed_ports_match_the_operator_defaults(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    _, stages = dockerfile
    exposed = {int(p) for e in stages[-1].all("EXPOSE") for p in e.split()}
    config = OperatorConfig()
    assert config.liveness_endpoint is not None and config.metrics_port is not None
    liveness_port = int(config.liveness_endpoint.rsplit(":", 1)[1].split("/")[0])
    assert exposed == {liveness_port, config.metrics_port}


def test_parser_sees_every_instruction() -> None:
    """The parser used above: continuations joined, stages split, comments dropped."""
    args, stages = parse("ARG B=python:3.11-slim\n# c\nFROM ${B} AS b\nRUN a \\\n  && b\nFROM ${B}\nUSER 1\n")
    assert args == {"B": "python:3.11-slim"} and [s.name for s in stages] == ["b", None]
    assert stages[0].all("RUN") == ["a    && b"] and stages[1].all("USER") == ["1"]
