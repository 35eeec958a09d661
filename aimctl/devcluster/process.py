"""Detached processes with pid files: start, find, stop.

Processes run in their own session (they survive the ``aimctl`` command that started them), log to a
file, and are found again through their pid file. A pid is trusted only if ``/proc/<pid>/cmdline``
still names the same executable, so a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def running_pid(pidfile: Path, executable: str) -> int | None:
    """The pid recorded in ``pidfile`` if that process is alive and runs ``executable``; else None.

    The check uses the kernel's ``comm`` (first 15 characters of the executable's name) and, once it
    is readable, the full ``cmdline``: right after ``exec`` the cmdline can still be empty.
    """
    try:
        pid = int(pidfile.read_text().strip())
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    comm, _, rest = stat.partition("(")[2].rpartition(")")
    state = rest.split()[0] if rest.split() else "?"
    if state == "Z" or comm != Path(executable).name[:15]:
        return None
    if cmdline and cmdline[0] and os.fsdecode(cmdline[0]) != executable:
        return None
    return pid


def start(argv: list[str], logfile: Path, pidfile: Path, env: dict[str, str] | None = None) -> int:
    """Start ``argv`` detached, appending its output to ``logfile``; record and return its pid.

    ``env`` adds to (and overrides) this process's environment.
    """
    logfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, **env} if env else None,
        )
    pidfile.write_text(str(proc.pid))
    return proc.pid


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(pidfile: Path, executable: str, timeout: float = 15.0) -> bool:
    """SIGTERM the process of ``pidfile``, SIGKILL after ``timeout`` s; True if one was running."""
    pid = running_pid(pidfile, executable)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if running_pid(pidfile, executable) is None:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        while running_pid(pidfile, executable) is not None:
            _reap(pid)
            time.sleep(0.05)
    pidfile.unlink(missing_ok=True)
    return True
