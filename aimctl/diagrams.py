"""State diagrams of every machine in :mod:`statemachines`, generated from the rule definitions.

``aimctl docs diagrams`` writes :data:`DEFAULT_PATH` (``docs/state-machines.md``): per kind, the table
of the ordered rules (name, the states it applies in, its guard, the target state, the effects its
action may declare) and — only for a kind whose behaviour depends on the state it is in — a mermaid
``stateDiagram-v2`` from :meth:`statemachines.engine.KindMachine.mermaid`, each arrow labelled with
the rule's guard. A kind whose every rule applies in any state is a decision table and gets the table
alone (a diagram would connect every state to every other and say nothing). A unit test compares
the committed file with :func:`render`, so the documentation cannot drift from the code.

The effects column is read from the source of each rule's action (and the module functions it calls):
``ApplyChild(role)``, ``DeleteChild(role)``, ``EmitEvent`` and ``RequeueAfter``, resolved through the
module's constants. An effect inside a condition of the action is listed too ("may declare").
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import statemachines
from statemachines.effects import ApplyChild, DeleteChild, EmitEvent, RequeueAfter
from statemachines.engine import ANY, SAME, KindMachine, Rule

DEFAULT_PATH = Path("docs/state-machines.md")


def machines() -> list[tuple[str, KindMachine[Any]]]:
    """``(module name, MACHINE)`` of every :mod:`statemachines` module that defines one, sorted."""
    found = []
    for info in sorted(pkgutil.iter_modules(statemachines.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"statemachines.{info.name}")
        machine = getattr(module, "MACHINE", None)
        if isinstance(machine, KindMachine):
            found.append((info.name, machine))
    return found


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


@functools.cache
def _tree(module: str) -> ast.Module:
    """The parsed source of a loaded module (read once per process)."""
    return ast.parse(inspect.getsource(sys.modules[module]))


def effects_of(action: Callable[..., Any]) -> list[str]:
    """The effects ``action`` (a module-level function) may declare, in source order, following
    calls to other functions of its module; ``[]`` for a lambda or a function without effects."""
    module = sys.modules.get(getattr(action, "__module__", ""))
    if module is None or getattr(action, "__name__", "<lambda>") == "<lambda>":
        return []
    tree = _tree(module.__name__)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    found: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in functions:
            return
        seen.add(name)
        for node in ast.walk(functions[name]):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            callee = node.func.id
            if callee in (ApplyChild.__name__, DeleteChild.__name__) and node.args:
                arg = node.args[0]
                role = arg.value if isinstance(arg, ast.Constant) else getattr(module, getattr(arg, "id", ""), "?")
                role = str(role)
                verb = "apply" if callee == ApplyChild.__name__ else "delete"
                found.append(f"{verb} `{role}`")
            elif callee == EmitEvent.__name__:
                found.append("event")
            elif callee == RequeueAfter.__name__:
                found.append("requeue")
            else:
                visit(callee)

    name = action.__name__
    # A closure built by a module function (``_aggregate(...)``): read the function that builds it.
    visit(name if name in functions else getattr(action, "__qualname__", name).split(".")[0])
    return list(dict.fromkeys(found))


def guard_text(rule: Rule[Any]) -> str:
    """The rule's guard for a reader: its ``doc``, else the guard's own expression (a lambda's body
    from the source, or the guard function's name)."""
    if rule.doc:
        return _cell(rule.doc)
    guard = rule.guard
    name = getattr(guard, "__name__", "")
    module = sys.modules.get(getattr(guard, "__module__", ""))
    if name != "<lambda>" or module is None:
        return "always" if name == "always" else f"`{name}(obs)`"
    line = guard.__code__.co_firstlineno
    lambdas = [n for n in ast.walk(_tree(module.__name__)) if isinstance(n, ast.Lambda)]
    here = [n for n in lambdas if n.lineno == line]
    return f"`{_cell(ast.unparse(here[0].body))}`" if len(here) == 1 else ""


def _sources(rule: Rule[Any]) -> str:
    if rule.source == ANY:
        return "any"
    return ", ".join([rule.source] if isinstance(rule.source, str) else list(rule.source))


def render() -> str:
    """The whole document."""
    out = [
        "# State machines",
        "",
        "Generated by `aimctl docs diagrams` from the rule definitions in `statemachines/`; do not edit.",
        "Each reconcile fires the first rule (in table order) whose source state and guard match. A kind",
        "whose every rule applies in any state is a decision table: its table alone says everything. A kind",
        "whose behaviour depends on its current state also gets a diagram of the rules that depend on it:",
        "one arrow per rule and state it applies in, labelled with the rule and its guard. Effects are what",
        "the rule's action may declare (some only under a condition).",
        "",
    ]
    for module, machine in machines():
        out += [f"## {machine.kind} (`statemachines/{module}.py`)", ""]
        if machine.state_dependent():
            out += ["```mermaid", machine.mermaid(any_state=False).rstrip(), "```", ""]
            if any(rule.source == ANY for rule in machine.rules):
                out += ["Rules that apply in any state (`any` below) are not drawn: the table places them.", ""]
        else:
            out += [f"A decision table: states {', '.join(machine.states)}; initial {machine.initial}.", ""]
        effects = [effects_of(rule.action) for rule in machine.rules]
        common = [e for e in effects[0] if all(e in other for other in effects)] if len(effects) > 1 else []
        if common:
            out += [f"Every rule's action may also declare: {', '.join(common)}.", ""]
        out += ["| # | rule | from | guard (when) | to | effects |", "|---|---|---|---|---|---|"]
        for i, (rule, found) in enumerate(zip(machine.rules, effects, strict=True), 1):
            dest = "(same)" if rule.dest == SAME else rule.dest
            own = ", ".join(e for e in found if e not in common) or "—"
            out.append(f"| {i} | `{rule.name}` | {_sources(rule)} | {guard_text(rule)} | {dest} | {own} |")
        out.append("")
    return "\n".join(out)


def write(path: Path = DEFAULT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path
