"""The house rules that imports and packaging must keep (README "Architecture").

- The layer contract and the no-circles contract in pyproject.toml hold (import-linter).
- Importing every operator module loads neither the testkit nor pytest.
- The operator's wheel, built from exactly what the image's build context holds, ships the operator only,
  and its runtime dependencies are exactly the outside packages the operator imports.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "operator" / "celigo_operator"
# import name -> distribution name, for the operator's outside imports
DISTRIBUTIONS = {"jwt": "pyjwt", "yaml": "pyyaml", "prometheus_client": "prometheus-client"}


def operator_modules() -> list[str]:
    return sorted(
        ".".join(p.relative_to(ROOT / "operator").with_suffix("").parts).removesuffix(".__init__")
        for p in PACKAGE.rglob("*.py")
        if p.name != "__main__.py"
    )


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_importing_the_operator_loads_no_test_tooling() -> None:
    modules = operator_modules()
    assert "celigo_operator.runtime" in modules and "celigo_operator.celigo.client" in modules
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('celigo_testkit', 'pytest', '_pytest'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def outside_imports() -> set[str]:
    """Top-level names of every non-stdlib package the operator's source imports."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "celigo_operator"}


def test_runtime_dependencies_are_what_the_operator_imports() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower() for d in declared}
    imported = {DISTRIBUTIONS.get(n, n) for n in outside_imports()}
    assert names == imported


@pytest.mark.slow
def test_the_wheel_ships_the_operator_only(tmp_path: Path) -> None:
    # The image's build context: what .dockerignore lets in (pyproject.toml, README.md, operator/).
    context = tmp_path / "context"
    context.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(ROOT / "operator", context / "operator", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(context)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = out.glob("celigo_operator-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"celigo_operator"}, packages
    sources = {n for n in names if n.endswith(".py")}
    assert sources == {f"{m.replace('.', '/')}{'/__init__' if (ROOT / 'operator' / m.replace('.', '/')).is_dir() else ''}.py"
                       for m in operator_modules()} | {"celigo_operator/__main__.py"}
    for banned in ("testkit", "testing", "emulator", "fake_", "pytest"):
        assert not [n for n in names if banned in n], banned
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [line for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line]
    for line in requires:
        assert not any(t in line for t in ("aiohttp", "jsonpatch", "jsonschema", "pytest")), line
