"""``aimctl --help`` shows the command tree; commands fail with one line and no traceback (no cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimctl.cli.main import app

runner = CliRunner()


def test_help_lists_every_command_with_one_line() -> None:
    result = runner.invoke(app, ["--help"], terminal_width=130)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    commands = lines[lines.index("Commands:") + 1 :]
    names = [line.split()[0] for line in commands if line.strip() and not line.startswith("   " * 6)]
    for name in ("get", "explain", "trace", "run", "crds", "dev", "demo", "cluster", "up", "build", "deploy"):
        assert name in names
    # nested commands are indented under their group
    assert any(line.startswith("      up ") for line in commands)
    assert all(len(line) <= 130 for line in commands)


@pytest.mark.parametrize("command", [["get"], ["get", "aimsvc", "-A"], ["explain", "aimsvc/x"], ["trace", "aimsvc/x"]])
def test_no_kubeconfig_is_one_line(command: list[str], tmp_path: Path) -> None:
    result = runner.invoke(app, command, env={"KUBECONFIG": "", "HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": ""})
    assert result.exit_code == 1
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith("error: no kubeconfig: KUBECONFIG is unset")
    assert "Traceback" not in result.output


def test_unreachable_apiserver_is_one_line(tmp_path: Path) -> None:
    """``get`` and ``aimctl run`` (in a subprocess: ``run`` configures process-wide logging)."""
    kc = tmp_path / "kc"
    kc.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    want = (
        "error: cannot reach https://127.0.0.1:9 (context c): connection refused; is the cluster running? "
        "(local cluster: aimctl dev cluster up)\n"
    )
    result = runner.invoke(app, ["get", "--kubeconfig", str(kc)])
    assert (result.exit_code, result.output) == (1, want)
    run = subprocess.run(
        [sys.executable, "-m", "aimctl.cli.main", "run", "--kubeconfig", str(kc), "--no-leader-elect"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "AIMCTL_STARTUP_WAIT": "0"},  # no waiting for an apiserver that never comes
    )
    assert (run.returncode, run.stderr, run.stdout) == (1, want, "")


def test_bad_output_and_watch_combination() -> None:
    assert (
        "error: --output 'xml' is not one of table, wide, json, yaml" in runner.invoke(app, ["get", "-o", "xml"]).output
    )
    assert "--watch shows tables" in runner.invoke(app, ["get", "-w", "-o", "json"]).output
