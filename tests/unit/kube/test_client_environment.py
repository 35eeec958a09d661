"""The API client makes no per-request thread-pool hops: no netrc or proxy look-up per request; the
environment's proxy for the apiserver is resolved once (no cluster: a kubeconfig pointing nowhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimctl.kube.client import ClientSettings, environment_proxy, new_client
from tests.support.kubeconfig import write_token_kubeconfig


def kubeconfig(tmp_path: Path, server: str = "https://127.0.0.1:6443") -> Path:
    return write_token_kubeconfig(tmp_path / "config", server)


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)


async def test_sessions_do_not_consult_the_environment_per_request(tmp_path: Path) -> None:
    rest = await new_client(ClientSettings(kubeconfig=kubeconfig(tmp_path)))
    try:
        for api in (rest.api_client, rest.watch_api_client):
            assert api.session.trust_env is False
            assert api.configuration.proxy is None
    finally:
        await rest.close()


async def test_the_environments_proxy_is_resolved_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    rest = await new_client(ClientSettings(kubeconfig=kubeconfig(tmp_path, "https://api.example:6443")))
    try:
        assert rest.api_client.configuration.proxy == "http://proxy.example:3128"
        assert rest.watch_api_client.configuration.proxy == "http://proxy.example:3128"
    finally:
        await rest.close()


def test_no_proxy_exempts_the_apiserver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert environment_proxy("https://api.example:6443") == "http://proxy.example:3128"
    assert environment_proxy("http://api.example:6443") is None, "no proxy variable for plain http"
    monkeypatch.setenv("NO_PROXY", "api.example,10.0.0.0/8")
    assert environment_proxy("https://api.example:6443") is None
