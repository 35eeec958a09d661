"""RBAC: the generated roles are current, minimal in form, and match what the controllers watch.

The dynamic half — every grant used by a real run, none missing — is
tests/integration/test_deploy_rbac.py.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any

from aimctl import rbac
from aimctl.cli.deploy import generated_files
from aimctl.cli.run import builtin_controllers
from aimctl.manager import Manager, ManagerConfig
from informers.resource import Resource
from tests.unit.deploy.conftest import DEPLOY, load_all


def test_generated_roles_are_current() -> None:
    for path, content in generated_files(DEPLOY).items():
        if path.parent.name == "rbac":
            assert path.read_text(encoding="utf-8") == content, f"{path} is stale: run `aimctl deploy manifests`"


def _roles() -> list[dict[str, Any]]:
    return [*load_all(DEPLOY / "rbac" / "role.yaml"), *load_all(DEPLOY / "rbac" / "leader_election_role.yaml")]


def test_no_wildcards_and_no_dangerous_verbs() -> None:
    for role in _roles():
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], f"{role['metadata']['name']}: wildcard in {rule}"
            assert not set(rule["verbs"]) & {"escalate", "bind", "impersonate", "deletecollection", "*"}
            assert "resourceNames" not in rule and "nonResourceURLs" not in rule


def test_secrets_read_only() -> None:
    for role in _roles():
        for rule in role["rules"]:
            if "" in rule["apiGroups"] and "secrets" in rule["resources"]:
                assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule


def test_each_grant_in_exactly_one_rule() -> None:
    """So that removing the rule that grants a used (group, resource, verb) really denies it."""
    for role in _roles():
        seen: dict[tuple[str, str, str], int] = {}
        for i, rule in enumerate(role["rules"]):
            for g in rule["apiGroups"]:
                for r in rule["resources"]:
                    for v in rule["verbs"]:
                        assert (g, r, v) not in seen, f"{(g, r, v)} granted by rules {seen[(g, r, v)]} and {i}"
                        seen[(g, r, v)] = i


def test_bindings_name_the_generated_roles_and_service_account() -> None:
    binding = load_all(DEPLOY / "rbac" / "role_binding.yaml")[0]
    le_binding = load_all(DEPLOY / "rbac" / "leader_election_role_binding.yaml")[0]
    sa = load_all(DEPLOY / "rbac" / "service_account.yaml")[0]
    assert binding["kind"] == "ClusterRoleBinding" and binding["roleRef"]["name"] == rbac.CLUSTER_ROLE
    assert le_binding["kind"] == "RoleBinding" and le_binding["roleRef"]["name"] == rbac.LEADER_ELECTION_ROLE
    assert sa["metadata"]["name"] == rbac.SERVICE_ACCOUNT
    for b in (binding, le_binding):
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": rbac.SERVICE_ACCOUNT, "namespace": "aim-system"}]


class _NoClient:
    """Controllers are only constructed here; nothing may talk to an apiserver."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected client use: {name}")


def _watched() -> set[tuple[str, str]]:
    manager = Manager(_NoClient(), ManagerConfig(leader_election=False))  # type: ignore[arg-type]
    for controller in builtin_controllers(manager):
        manager.add(controller)
    return {(i.resource.group, i.resource.plural) for i in manager.cache}


def test_list_watch_grants_equal_the_informers() -> None:
    """Every informer of the built-in controllers needs list+watch; a list/watch grant nobody uses is
    too broad."""
    watched = _watched()
    granted = rbac.grants(rbac.CLUSTER_PERMISSIONS)
    for group, plural in watched:
        for verb in ("list", "watch"):
            assert (group, plural, verb) in granted, f"controllers watch {plural}.{group} but {verb} is not granted"
    for group, resource, verb in granted:
        if verb in ("list", "watch"):
            assert (group, resource) in watched, f"{verb} on {resource}.{group} granted but nothing watches it"


def test_leader_election_role_matches_the_elector() -> None:
    import informers.leaderelection as le

    source = inspect.getsource(le)
    used = {v for v in ("get", "list", "create", "update", "patch", "delete") if f'"{v}",\n' in source}
    if ".stream(" in source:  # a watch: GET ?watch=1
        used.add("watch")
    assert rbac.grants(rbac.LEADER_ELECTION_PERMISSIONS) == {("coordination.k8s.io", "leases", v) for v in used}


_CHILD = re.compile(r"\b(Desired|Deletion)\(\s*([\w.]+)")


def _declared_writes() -> set[tuple[str, str, str]]:
    """What the controllers' code can write: ``Desired(resource, ...)`` → apply (create, patch),
    ``Deletion(resource, ...)`` → delete, each reconciled kind → its ``status`` (patch), events."""
    manager = Manager(_NoClient(), ManagerConfig(leader_election=False))  # type: ignore[arg-type]
    out: set[tuple[str, str, str]] = {("events.k8s.io", "events", "create")}
    for controller in builtin_controllers(manager):
        res = getattr(controller, "resource", None)
        if isinstance(res, Resource):
            out.add((res.group, f"{res.plural}/status", "patch"))
            if getattr(controller, "memory_annotation", None):  # its memory: an annotation of its own object
                out.add((res.group, res.plural, "patch"))
        cls = type(controller)
        module = sys.modules[cls.__module__]
        for klass in cls.__mro__:
            if klass.__module__.startswith("aimctl.controllers") and klass.__module__ != "aimctl.controllers.base":
                # The whole module: child builders may be module-level functions named by the
                # controller's ``children()`` declarations.
                for kind, token in _CHILD.findall(inspect.getsource(sys.modules[klass.__module__])):
                    target = getattr(controller, token[5:]) if token.startswith("self.") else getattr(module, token)
                    assert isinstance(target, Resource), f"{cls.__name__}: {kind}({token}) is not a Resource"
                    sub = "/status" if target.path("ns" if target.namespaced else None, "x").endswith("/status") else ""
                    verbs = ("delete",) if kind == "Deletion" else (("patch",) if sub else ("create", "patch"))
                    out |= {(target.group, target.plural + sub, v) for v in verbs}
    return out


def test_write_grants_equal_what_the_controllers_write() -> None:
    declared = _declared_writes()
    granted = {g for g in rbac.grants(rbac.CLUSTER_PERMISSIONS) if g[2] not in ("get", "list", "watch")}
    assert declared - granted == set(), f"the controllers write without permission: {sorted(declared - granted)}"
    assert granted - declared == set(), f"write permissions no controller uses: {sorted(granted - declared)}"
