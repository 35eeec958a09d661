"""A minimal token kubeconfig for tests that need one without a cluster (a server that may not exist)."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_token_kubeconfig(path: Path, server: str = "https://127.0.0.1:6443") -> Path:
    """Write a kubeconfig at ``path`` with one context ``one`` (cluster ``c``, user ``u`` with token
    ``t``) pointing at ``server``; returns ``path``."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "one",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "one", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return path
