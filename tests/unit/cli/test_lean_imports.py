"""``aimctl run`` — the operator image's entry point — imports only what the operator runs.

In a fresh interpreter, as in the image (rich and pygments not installed, ``TYPER_USE_RICH=0``:
see the Dockerfile and ``make lock``), run the command through the CLI entry point up to its
connection check, import what it imports once connected (the manager and the controllers), and
list the modules loaded. The development cluster (and ``cryptography``, which only it needs),
kubernetes_asyncio's generated client (~38 MiB, tests only), the terminal-rendering libraries, the
other commands (and what only they import: the inspection views, the CRD generator, the dashboard)
and pydantic (~9 MiB: the API models are imported only where discovery output or image metadata is
validated, see aimctl/api/enums.py) must not be among them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FORBIDDEN = (
    "aimctl.devcluster",
    "cryptography",
    "kubernetes_asyncio",
    "rich",
    "pygments",
    # the other commands, and what only they need
    "aimctl.cli.get",
    "aimctl.cli.explain",
    "aimctl.cli.crds",
    "aimctl.cli.dev",
    "aimctl.cli.docs",
    "aimctl.cli.deploy",
    "aimctl.inspect",
    "aimctl.monitoring",
    "aimctl.api.crdgen",
    # the API models: the operator works on plain dicts (aimctl.api.enums has what it needs)
    "pydantic",
    "pydantic_core",
    "aimctl.api.base",
    "aimctl.api.kinds",
)

SCRIPT = """
import importlib.abc, json, sys

class NotInTheImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("rich", "pygments"):
            raise ImportError(f"{name} is not installed in the image")
        return None

sys.meta_path.insert(0, NotInTheImage())
from aimctl.cli.main import app
try:
    app(["run", "--kubeconfig", sys.argv[1], "--no-leader-elect"], prog_name="aimctl", standalone_mode=False)
except BaseException as exc:
    print(f"exit: {exc!r}", file=sys.stderr)
import aimctl.controllers.registry, aimctl.manager
print(json.dumps(sorted(sys.modules)))
"""


def test_run_imports_nothing_only_development_needs(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    env = {**os.environ, "TYPER_USE_RICH": "0", "AIMCTL_STARTUP_WAIT": "0"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(kc)], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    # the command really ran: it got as far as the connection check
    assert "error: cannot reach https://127.0.0.1:9" in done.stderr, done.stderr
    modules = json.loads(done.stdout)
    assert "aimctl.cli.run" in modules and "aimctl.controllers.registry" in modules
    loaded = sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert not loaded, f"aimctl run imported {loaded}"


WITHOUT_CRYPTOGRAPHY = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "cryptography":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from aimctl.cli.main import app
app(sys.argv[1:], prog_name="aimctl")
"""


def test_dev_without_its_extra_says_which_to_install() -> None:
    """Installed without the ``devcluster`` extra (as in the image), ``aimctl dev`` names the extra,
    and ``aimctl --help`` still lists every command."""

    def aimctl(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", WITHOUT_CRYPTOGRAPHY, *argv], capture_output=True, text=True,
                              timeout=120, check=False, env={**os.environ, "TYPER_USE_RICH": "0"})  # fmt: skip

    done = aimctl("dev", "cluster", "status", "--name", "x")
    want = "error: aimctl dev needs 'cryptography', which is not installed: pip install 'aimctl[devcluster]'\n"
    assert (done.returncode, done.stderr) == (1, want)
    done = aimctl("--help")
    assert done.returncode == 0, done.stderr
    assert "dev " in done.stdout and "get " in done.stdout and "upstream-crds" in done.stdout
