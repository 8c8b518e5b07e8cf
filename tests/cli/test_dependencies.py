"""What clamp imports is what pyproject.toml declares, and nothing declared goes unused.

An import of an undeclared package (click, once) works only while something else happens to
install it; a declared package nobody imports (sigstore, once: 13 packages) is install time
and attack surface for nothing. Both are checked against the source, not a list.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
#: Declared for what they do at run time without being imported by name.
IMPLICIT = {
    "sniffio": "httpcore imports it on every lock (see pyproject.toml)",
}


def imported_distributions() -> dict[str, set[str]]:
    """Each top-level module clamp imports -> the distributions that provide it (a namespace
    such as `ruamel` is provided by several: ruamel.yaml and ruamel.yaml.clib)."""
    names: set[str] = set()
    for path in (ROOT / "src" / "clamp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    mapping = packages_distributions()
    found: dict[str, set[str]] = {}
    for name in names - set(sys.stdlib_module_names) - {"clamp"}:
        dists = mapping.get(name)
        assert dists, f"clamp imports {name!r}, which no installed distribution provides"
        found[name] = {canonicalize_name(d) for d in dists}
    return found


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # The extras that belong to clamp's own code (the test extra is the test suite's).
    deps = [*project["dependencies"], *project["optional-dependencies"]["telemetry"]]
    return {canonicalize_name(Requirement(d).name) for d in deps}


def test_every_imported_package_is_declared() -> None:
    missing = {name: dists for name, dists in imported_distributions().items()
               if not dists & declared()}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_every_declared_package_is_imported() -> None:
    provided = set().union(*imported_distributions().values())
    unused = declared() - provided - set(IMPLICIT)
    assert not unused, f"declared but never imported: {sorted(unused)}"
    assert "sigstore" not in declared() and "click" not in declared()
