"""Running ``aimctl run`` as a real subprocess, for tests that need processes (leader election,
signals, logs as a user would see them)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.wait import wait_for

REPO = Path(__file__).resolve().parents[2]


class OperatorProcess:
    """``python -m aimctl.cli.main run ARGS`` with stderr (the JSON log) captured to a file."""

    def __init__(self, kubeconfig: Path, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        full_env.pop("AIMCTL_EXTRA_CONTROLLERS", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aimctl.cli.main", "run", "--kubeconfig", str(kubeconfig), *args],
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append({"event": raw, "unparsed": True})
        return out

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logged(self, event: str) -> bool:
        return any(line.get("event") == event for line in self.lines())

    async def wait_logged(self, event: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        def seen() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"operator exited ({self.proc.returncode}) before logging {event!r}:\n{self.text()}"
                )
            return self.logged(event)

        try:
            await wait_for(seen, timeout=timeout, what=f"the operator to log {event!r}")
        except AssertionError as e:
            if self.proc.poll() is None:  # timed out: show the log
                raise AssertionError(f"{e}:\n{self.text()[-4000:]}") from e
            raise

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    async def wait_exit(self, timeout: float = 40.0) -> int:  # noqa: ASYNC109
        try:
            await wait_for(self.proc.poll, lambda code: code is not None, timeout=timeout, what="the operator to exit")
        except AssertionError as e:
            raise AssertionError(f"{e}:\n{self.text()[-4000:]}") from e
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()
