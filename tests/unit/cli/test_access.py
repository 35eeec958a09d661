"""One line per failure: kubeconfig problems, unreachable apiserver, 401, 403, missing CRDs (no cluster)."""

from __future__ import annotations

import socket
from pathlib import Path

import anyio
import pytest
import yaml

from aimctl.cli.access import CliError, Target, preflight, resolve_target, translate
from aimctl.cli.explain import parse_ref
from aimctl.kube.resources import AIM_SERVICES, PODS
from informers.rest import ApiError
from tests.support.kubeconfig import write_token_kubeconfig
from tests.support.wait import wait_for

TARGET = Target(Path("/k"), "ctx", "ns", "https://10.0.0.1:6443")


def kubeconfig(tmp_path: Path, namespace: str | None = None) -> Path:
    ctx: dict[str, str] = {"cluster": "c", "user": "u"}
    if namespace:
        ctx["namespace"] = namespace
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "one",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "one", "context": ctx},
                    {"name": "two", "context": {"cluster": "c", "user": "u"}},
                ],
            }
        )
    )
    return path


def test_namespace_from_flag_then_context_then_default(tmp_path: Path) -> None:
    kc = kubeconfig(tmp_path, "team-a")
    assert resolve_target(kc, None, None) == Target(kc, "one", "team-a", "https://127.0.0.1:6443")
    assert resolve_target(kc, None, "x").namespace == "x"
    assert resolve_target(kc, "two", None).namespace == "default"


def test_kubeconfig_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kc = kubeconfig(tmp_path)
    monkeypatch.setenv("KUBECONFIG", f"{kc}:/elsewhere")
    assert resolve_target(None, None, None).kubeconfig == kc
    monkeypatch.setenv("KUBECONFIG", "/nope")
    with pytest.raises(CliError, match=r"^KUBECONFIG=/nope names no existing file: fix it or unset it"):
        resolve_target(None, None, None)


def test_no_kubeconfig_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(CliError) as e:
        resolve_target(None, None, None)
    assert str(e.value).startswith("no kubeconfig: KUBECONFIG is unset and ")
    assert "export KUBECONFIG=$(aimctl dev cluster kubeconfig)" in str(e.value)


def test_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"context 'three' is not in kubeconfig .*: use one of one, two with --context"):
        resolve_target(kubeconfig(tmp_path), "three", None)


def test_unusable_kubeconfig(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("- a list\n")
    with pytest.raises(CliError, match="is not a kubeconfig"):
        resolve_target(bad, None, None)
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(CliError, match="has no current-context"):
        resolve_target(empty, None, None)


def test_forbidden_names_verb_resource_and_namespace() -> None:
    err = ApiError(403, "Forbidden", 'aimservices.aim.silogen.ai is forbidden: User "u" cannot list resource')
    line = str(translate(err, TARGET, "list", AIM_SERVICES, "ns"))
    assert line.startswith('RBAC denied list aimservices.aim.silogen.ai in namespace "ns": aimservices.aim')
    assert "[list] on aimservices.aim.silogen.ai" in line
    assert "\n" not in line


def test_missing_aim_crd_names_the_install_command() -> None:
    line = str(
        translate(
            ApiError(404, "NotFound", "the server could not find the requested resource"),
            TARGET,
            "list",
            AIM_SERVICES,
            "ns",
        )
    )
    assert line.startswith("the AIM CRDs are not installed on https://10.0.0.1:6443 (aimservices.aim.silogen.ai")
    assert "kubectl apply --server-side -k deploy/crds" in line


def test_unauthorized_and_unreachable() -> None:
    assert "rejected the credentials" in str(translate(ApiError(401, "Unauthorized"), TARGET, "list", PODS))
    refused = translate(ConnectionRefusedError(111, "Connect call failed"), TARGET)
    assert str(refused) == (
        "cannot reach https://10.0.0.1:6443 (context ctx): connection refused; is the cluster running? "
        "(local cluster: aimctl dev cluster up)"
    )
    assert "did not answer in time" in str(translate(TimeoutError(), TARGET))


@pytest.mark.parametrize(
    ("args", "want"),
    [(("aimsvc/chat", None), ("aimsvc", "chat")), (("aimsvc", "chat"), ("aimsvc", "chat"))],
)
def test_explain_reference_forms(args: tuple[str, str | None], want: tuple[str, str]) -> None:
    assert parse_ref(*args) == want


@pytest.mark.parametrize("ref", ["aimsvc", "aimsvc/", "/chat"])
def test_explain_reference_errors(ref: str) -> None:
    with pytest.raises(CliError, match="name the object as KIND/NAME"):
        parse_ref(ref, None)


async def test_preflight_waits_for_an_apiserver_that_is_starting(tmp_path: Path) -> None:
    """Refused at first (nothing listens), answered once a server starts: ``wait`` asks again, with
    one report per pause, instead of failing (``aimctl run`` restarted while the apiserver restarts)."""
    from aiohttp import web

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = Target(
        write_token_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}"),
        "one",
        "default",
        f"http://127.0.0.1:{port}",
    )
    reports: list[str] = []
    app = web.Application()
    app.router.add_get("/version", lambda _: web.json_response({"gitVersion": "v1.35.0"}))
    runner = web.AppRunner(app)
    await runner.setup()

    async def start_later() -> None:
        # Once refused (the first report: preflight is in its first pause), the server starts.
        await wait_for(lambda: reports, bool, what="a report of the first refusal")
        await web.TCPSite(runner, "127.0.0.1", port).start()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(start_later)
            await preflight(target, request_timeout=2, wait=30, on_retry=lambda m, d: reports.append(m))
        assert reports and all("connection refused" in r for r in reports), reports
    finally:
        await runner.cleanup()


async def test_preflight_does_not_wait_for_what_waiting_cannot_fix(tmp_path: Path) -> None:
    """Nothing listens and no wait: the one line at once; a 401 is never waited for either."""
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/version", lambda _: web.json_response({"kind": "Status", "code": 401}, status=401))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    target = Target(
        write_token_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}"),
        "one",
        "default",
        f"http://127.0.0.1:{port}",
    )
    reports: list[str] = []
    try:
        with pytest.raises(CliError, match="rejected the credentials"):
            await preflight(target, request_timeout=2, wait=30, on_retry=lambda m, d: reports.append(m))
        assert reports == []
    finally:
        await runner.cleanup()
