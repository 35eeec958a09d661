"""Which base ``make image`` builds on (aimctl/devcluster/image.py), decided without running a builder:
the pinned one when present or pullable, the Debian-archive one otherwise, or what ``IMAGE_BASE`` says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aimctl.devcluster import image
from tests.unit.deploy.conftest import ROOT


class FakeBuilder(image.Builder):
    """Answers ``inspect``/``pull`` from sets instead of running buildah; records every call."""

    def __init__(self, present: set[str], pullable: set[str]) -> None:
        super().__init__("buildah", ("buildah",))
        object.__setattr__(self, "present", present)
        object.__setattr__(self, "pullable", pullable)
        object.__setattr__(self, "calls", [])

    def run(self, *args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)  # type: ignore[attr-defined]
        ok = (args[0] == "inspect" and args[-1] in self.present) or (  # type: ignore[attr-defined]
            args[0] == "pull" and args[-1] in self.pullable  # type: ignore[attr-defined]
        )
        return subprocess.CompletedProcess(list(args), 0 if ok else 1, "", "")


PINNED = image.pinned_base(ROOT / "Dockerfile")


def test_pinned_base_is_the_dockerfile_default() -> None:
    assert PINNED.startswith("python:3.") and "@sha256:" in PINNED


def test_auto_uses_the_pinned_base_when_it_can_be_pulled() -> None:
    builder = FakeBuilder(present=set(), pullable={PINNED})
    assert image.resolve_base(builder, "auto", ROOT / "Dockerfile", log=lambda m: None) == PINNED


def test_auto_falls_back_to_the_generated_base_and_says_so() -> None:
    builder = FakeBuilder(present={image.GENERATED_BASE}, pullable=set())
    said: list[str] = []
    assert image.resolve_base(builder, "auto", ROOT / "Dockerfile", log=said.append) == image.GENERATED_BASE
    assert any("cannot be pulled" in m and image.GENERATED_BASE in m for m in said), said


def test_pinned_refuses_when_it_cannot_be_pulled() -> None:
    builder = FakeBuilder(present={image.GENERATED_BASE}, pullable=set())
    with pytest.raises(image.ImageBuildError, match="IMAGE_BASE=debian"):
        image.resolve_base(builder, "pinned", ROOT / "Dockerfile", log=lambda m: None)


def test_an_explicit_reference_is_used_as_given() -> None:
    builder = FakeBuilder(present=set(), pullable=set())
    assert image.resolve_base(builder, "registry.example/base:1", ROOT / "Dockerfile") == "registry.example/base:1"
    assert builder.calls == []  # type: ignore[attr-defined]


def test_generated_base_cache_is_keyed_by_name_and_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMCTL_CACHE_DIR", str(tmp_path))
    path = image.base_rootfs_path()
    assert path.parent.parent == tmp_path / "image-base"
    assert path.parent.name == f"bookworm-python3.11-mmdebstrap-{image.base_recipe_key()}"
    monkeypatch.setattr(image, "BASE_PACKAGES", (*image.BASE_PACKAGES, "curl"))
    assert image.base_rootfs_path() != path
