"""Every third-party package the product code imports is declared in pyproject.toml.

The runtime's (``dependencies``) for everything the operator or the read-only CLI can import; an
extra's for the development-only modules listed in :data:`DEVELOPMENT_ONLY` (never imported by
``aimctl run``: tests/unit/cli/test_lean_imports.py). A package that is only installed because
another one depends on it would otherwise vanish from the image the day that other package drops it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("aimctl", "informers", "statemachines", "metrics")
#: Module path prefix → the extra whose packages it may import besides the runtime's.
DEVELOPMENT_ONLY = {
    "aimctl/devcluster/": "devcluster",
    "aimctl/monitoring/dashboard.py": "dev",  # `aimctl deploy manifests` renders the Grafana dashboard
}


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in ``path`` that are neither stdlib nor ours."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in PACKAGES and n != "__future__"}


def canonical(requirement: str) -> str:
    name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {canonical(r) for r in project["dependencies"]}
    extras = {name: {canonical(r) for r in reqs} for name, reqs in project["optional-dependencies"].items()}
    distributions = importlib.metadata.packages_distributions()
    missing: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            allowed = set(runtime)
            for prefix, extra in DEVELOPMENT_ONLY.items():
                if rel.startswith(prefix):
                    allowed |= extras[extra]
            for name in sorted(third_party_imports(path)):
                dists = {canonical(d) for d in distributions.get(name, [name])}
                if not dists & allowed:
                    missing.append(f"{rel}: imports {name} ({', '.join(sorted(dists))}) undeclared")
    assert not missing, "declare these in pyproject.toml [project] dependencies:\n" + "\n".join(missing)


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import os\nfrom . import x\ndef f():\n    import yaml.constructor\n    from aiohttp import web\n"
    )
    assert third_party_imports(module) == {"yaml", "aiohttp"}
