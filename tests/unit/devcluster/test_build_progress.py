"""Progress of the first build: steps, packages compiled of the total, time left (no real build: a
fake ``go`` on PATH and a fake clock)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aimctl.devcluster import build
from aimctl.devcluster.gobuild import GoError, count_packages, run_go
from aimctl.devcluster.progress import BuildProgress, duration


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_log_mode_prints_step_lines_and_every_ten_percent() -> None:
    lines: list[str] = []
    clock = Clock()
    p = BuildProgress(2, lines.append, clock=clock)
    p.start("building kube-apiserver", 100)
    for _ in range(25):
        clock.t += 2
        p.advance()
    assert lines == [
        "[1/2] building kube-apiserver (100 packages) ...",
        "[1/2] building kube-apiserver, 10/100 packages (10%), ~3m00s left in this step, 20s so far",
        "[1/2] building kube-apiserver, 20/100 packages (20%), ~2m40s left in this step, 40s so far",
    ]
    p.start("building kube-scheduler", None, "modules downloaded")
    clock.t += 31
    p.advance()
    assert lines[-1] == "[2/2] building kube-scheduler, 1 modules downloaded, 1m21s so far"
    p.done("built")
    assert lines[-1] == "built (1m21s in all)"


def test_terminal_mode_redraws_one_line_at_most_twice_a_second() -> None:
    lines: list[str] = []
    drawn: list[str] = []
    clock = Clock()
    p = BuildProgress(1, lines.append, drawn.append, clock=clock)
    p.start("building etcd", 10)
    for _ in range(10):
        clock.t += 0.2
        p.advance()
    assert lines == ["[1/1] building etcd (10 packages) ..."]
    assert 3 <= len(drawn) <= 5
    assert drawn[-1].startswith("[1/1] building etcd, ")
    p.done("built")
    assert drawn[-1] == ""  # the status line is cleared before the next line is written
    assert lines[-1] == "built (2s in all)"


@pytest.mark.parametrize(("s", "text"), [(5, "5s"), (65, "1m05s"), (3725, "1h02m")])
def test_duration(s: float, text: str) -> None:
    assert duration(s) == text


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``go`` that prints what ``go build -v`` / ``go list -deps`` / ``go mod tidy`` would."""
    script = tmp_path / "bin" / "go"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        'case "$1 $2" in\n'
        '  "list -deps") printf "fmt\\nos\\nexample.com/a\\nexample.com/cmd\\n" ;;\n'
        '  "mod tidy") echo "go: downloading example.com/a v1.0.0" >&2; echo "go: finding module" >&2 ;;\n'
        '  "build -v") for p in fmt os example.com/a example.com/cmd; do echo $p >&2; done;'
        ' [ -n "$FAIL" ] && { echo "boom" >&2; exit 2; }; touch "$6" ;;\n'
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return script


def test_run_go_streams_stderr_lines(fake_go: Path, tmp_path: Path) -> None:
    seen: list[str] = []
    out = run_go(["build", "-v", "-ldflags", "x", "-o", str(tmp_path / "bin.out"), "pkg"], on_line=seen.append)
    assert seen == ["fmt", "os", "example.com/a", "example.com/cmd"] and out == ""
    assert count_packages(["example.com/cmd"], tmp_path) == 4


def test_run_go_failure_keeps_the_stderr_tail(fake_go: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(GoError, match=r"(?s)exit 2.*boom"):
        run_go(["build", "-v", "-ldflags", "x", "-o", str(tmp_path / "o"), "p"], on_line=lambda _: None)


def test_build_module_reports_tidy_and_each_binary(fake_go: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    p = BuildProgress(3, lines.append)
    build._build_module(tmp_path / "w", "module m\n", {"example.com/cmd": "cmd"}, tmp_path, "-s", p, "thing v1")
    assert lines[0] == "[1/3] thing v1: resolving and downloading Go modules (go mod tidy) ..."
    assert lines[1] == "[2/3] building cmd (4 packages) ..."
    assert lines[-1].startswith("[2/3] building cmd, 4/4 packages (100%)")
    assert (tmp_path / "cmd").exists()
