"""Each controller's child declarations agree with its machine, before anything runs (issue 15).

A machine names child roles in its ``ApplyChild`` / ``DeleteChild`` effects; the controller declares
each role once (:class:`aimctl.controllers.base.Child`). Read from the machine module's source, every
role a machine applies must have a builder, every role it deletes a deletion, every declared role
must be named by the machine, and the child's resource must be watched (a child that changes or goes
away wakes its owner)."""

from __future__ import annotations

import ast
import inspect
import sys
from typing import Any

import pytest

from aimctl.controllers.base import Child, KindController, UndeclaredChild
from aimctl.controllers.registry import controllers
from aimctl.manager import Manager, ManagerConfig
from statemachines.effects import ApplyChild, DeleteChild

#: (controller, role) whose child resource is not watched, and why.
UNWATCHED = {
    # A cluster template never caches (``caching_enabled`` is False for it): the role is declared
    # with builders that return nothing, so nothing of that resource is ever created or deleted.
    ("aim-cluster-template", "template-cache"),
}


class _NoClient:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected client use: {name}")


def _kind_controllers() -> list[KindController[Any]]:
    manager = Manager(_NoClient(), ManagerConfig(leader_election=False))  # type: ignore[arg-type]
    return [c for c in controllers(manager) if isinstance(c, KindController)]


def machine_roles(module_name: str) -> tuple[set[str], set[str]]:
    """``(applied, deleted)``: the roles of every ``ApplyChild(...)`` / ``DeleteChild(...)`` in the
    machine's module, resolved through the module's constants (a role must be a constant)."""
    module = sys.modules[module_name]
    applied: set[str] = set()
    deleted: set[str] = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in (ApplyChild.__name__, DeleteChild.__name__):
            continue
        arg = node.args[0] if node.args else next(k.value for k in node.keywords if k.arg == "role")
        if isinstance(arg, ast.Constant):
            role = arg.value
        else:
            assert isinstance(arg, ast.Name), f"{module_name}:{node.lineno}: a child role must be a constant"
            role = getattr(module, arg.id)
        assert isinstance(role, str)
        (applied if node.func.id == ApplyChild.__name__ else deleted).add(role)
    return applied, deleted


def machine_module(controller: KindController[Any]) -> str:
    """The ``statemachines`` module whose ``MACHINE`` the controller runs."""
    found = [
        n
        for n, m in sys.modules.items()
        if n.startswith("statemachines.") and getattr(m, "MACHINE", None) is controller.machine
    ]
    assert len(found) == 1, f"{controller.name}: machine module not found"
    return found[0]


CONTROLLERS = _kind_controllers()


@pytest.mark.parametrize("controller", CONTROLLERS, ids=lambda c: c.name)
def test_every_role_the_machine_names_is_declared_once(controller: KindController[Any]) -> None:
    module = machine_module(controller)
    applied, deleted = machine_roles(module)
    declared: list[Child[Any]] = list(controller.children())
    roles = [c.role for c in declared]
    assert len(roles) == len(set(roles)), f"{controller.name}: a role is declared twice: {roles}"
    by_role = {c.role: c for c in declared}
    for role in sorted(applied):
        assert role in by_role, f"{controller.name}: {module} applies {role!r}, which it does not declare"
        assert by_role[role].build is not None, f"{controller.name}: {role!r} is applied but has no builder"
    for role in sorted(deleted):
        assert role in by_role, f"{controller.name}: {module} deletes {role!r}, which it does not declare"
        assert by_role[role].delete is not None, f"{controller.name}: {role!r} is deleted but has no deletion"
    for child in declared:
        assert child.role in applied | deleted, f"{controller.name}: {child.role!r} is declared, never named"
        assert (child.build is not None) == (child.role in applied), f"{controller.name}: builder of {child.role!r}"
        assert (child.delete is not None) == (child.role in deleted), f"{controller.name}: deletion of {child.role!r}"
    watched = {w.resource for w in controller.watches()}
    for child in declared:
        if (controller.name, child.role) not in UNWATCHED:
            assert child.resource in watched, f"{controller.name}: child {child.role!r} ({child.resource}) not watched"


def test_the_machines_name_roles_at_all() -> None:
    """The scan finds the effects (a scan that finds nothing would pass every check above)."""
    names = {c.name: machine_roles(machine_module(c)) for c in CONTROLLERS}
    assert names["aim-service"][0] >= {"inference-service", "http-route"}
    assert names["aim-namespace-template"][1] >= {"discovery-job", "stale-discovery-jobs"}


def test_an_undeclared_role_is_a_clear_error() -> None:
    controller = next(c for c in CONTROLLERS if c.name == "aim-runtime-config")
    with pytest.raises(UndeclaredChild, match="aim-runtime-config: no child declaration for role 'nope'"):
        controller.desired("nope", {}, None)
