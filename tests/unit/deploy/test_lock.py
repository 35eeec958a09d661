"""requirements.lock and requirements-build.lock: hashed, complete and current with pyproject.toml.

Offline checks (``make lock`` regenerates both files with pip-compile): every runtime dependency of
pyproject.toml is pinned at a version its specifier allows, every pin carries hashes, every pin is
needed (pip-compile's ``# via`` names pyproject or another pin), and the build lock satisfies
``build-system.requires``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.unit.deploy.conftest import ROOT

PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)\s*\\?$")


def parse_lock(path: Path) -> dict[str, tuple[Version, int, set[str]]]:
    """name → (version, number of hashes, names in its ``# via``)."""
    out: dict[str, tuple[Version, int, set[str]]] = {}
    current: str | None = None
    via_block = False
    for raw in path.read_text().splitlines():
        line = raw.strip()
        m = PIN.match(line)
        if m:
            current = canonicalize_name(m.group(1))
            out[current] = (Version(m.group(2)), 0, set())
            via_block = False
            continue
        if current is None:
            continue
        version, hashes, via = out[current]
        if line.startswith("--hash=sha256:"):
            out[current] = (version, hashes + 1, via)
        elif line.startswith("# via"):
            rest = line.removeprefix("# via").strip()
            via_block = not rest
            if rest:
                via.add(rest)
        elif via_block and line.startswith("#   "):
            via.add(line.removeprefix("#").strip())
        elif not line:
            via_block = False
    return out


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_lock_has_no_index_or_local_paths() -> None:
    for name in ("requirements.lock", "requirements-build.lock"):
        text = (ROOT / name).read_text()
        assert not re.search(r"^--(find-links|index-url|extra-index-url)", text, re.M), name
        assert "file://" not in text and "/tmp/" not in text.split("# The following")[0], name


def test_every_runtime_dependency_pinned_with_hashes() -> None:
    lock = parse_lock(ROOT / "requirements.lock")
    deps = [Requirement(d) for d in pyproject()["project"]["dependencies"]]  # type: ignore[index]
    for req in deps:
        name = canonicalize_name(req.name)
        assert name in lock, f"{req} is not in requirements.lock: run `make lock`"
        version = lock[name][0]
        assert req.specifier.contains(version, prereleases=True), f"{name}=={version} violates {req}: run `make lock`"
    for name, (version, hashes, _) in lock.items():
        assert hashes >= 1, f"{name}=={version} has no hash"


def test_every_pin_is_needed() -> None:
    lock = parse_lock(ROOT / "requirements.lock")
    for name, (_, _, via) in lock.items():
        assert via, f"{name} has no '# via' annotation"
        for source in via:
            if source.startswith("aimctl (pyproject.toml)"):
                continue
            assert canonicalize_name(source) in lock, f"{name} is pulled in by {source}, which is not pinned"


def test_build_lock_satisfies_build_system() -> None:
    lock = parse_lock(ROOT / "requirements-build.lock")
    for spec in pyproject()["build-system"]["requires"]:  # type: ignore[index]
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in lock and req.specifier.contains(lock[name][0]), f"{req} not satisfied by requirements-build.lock"
        assert lock[name][1] >= 1
