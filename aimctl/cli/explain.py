"""``aimctl explain KIND/NAME`` (alias ``trace``): the dependency tree of one AIM object, its first
blocker with a hint, and the recent events of the chain (``-o json`` for scripts).

The exit status says whether something blocks the object: 0 when nothing does (it may still be
progressing), 3 when a blocker is found — so scripts can wait on ``explain`` without parsing it;
1 is an error (connection, RBAC, not found).
"""

from __future__ import annotations

import json
from typing import Annotated

import anyio
import typer

from aimctl.cli.access import CliError, connect, resolve_target
from aimctl.cli.fetch import snapshot_for_explain
from aimctl.cli.options import ContextOpt, KubeconfigOpt, NamespaceOpt, colour_enabled, one_line_errors
from aimctl.inspect import render
from aimctl.inspect.table import UnknownKind, resolve_kinds
from aimctl.inspect.tree import explain as build_explanation

BLOCKED_EXIT = 3


def parse_ref(ref: str, name: str | None) -> tuple[str, str]:
    """``KIND/NAME`` or ``KIND NAME`` → (kind, name); :class:`CliError` otherwise."""
    if name is None:
        kind, sep, obj = ref.partition("/")
        if not sep or not kind or not obj:
            raise CliError(f"{ref!r}: name the object as KIND/NAME, e.g. aimservice/llama (or: aimsvc llama)")
        return kind, obj
    return ref, name


@one_line_errors
def explain(
    ref: Annotated[str, typer.Argument(help="KIND/NAME, e.g. aimservice/llama or aimclst/llama-mi300x.")],
    name: Annotated[str | None, typer.Argument(help="NAME, when KIND is given alone.", show_default=False)] = None,
    namespace: NamespaceOpt = None,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json.")] = "text",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Why is it (not) working: dependency tree, first blocker with a hint, recent events."""
    if output not in ("text", "json"):
        raise CliError(f"--output {output!r} is not one of text, json")
    kind_name, obj_name = parse_ref(ref, name)
    try:
        kinds = resolve_kinds(kind_name)
    except UnknownKind as e:
        raise CliError(str(e)) from None
    if len(kinds) != 1:
        raise CliError(f"{kind_name!r} names several kinds: explain one object, e.g. aimservice/NAME")
    info = kinds[0]
    target = resolve_target(kubeconfig, context, namespace)

    async def read():  # type: ignore[no-untyped-def]
        async with connect(target) as reader:
            return await snapshot_for_explain(reader, info, target.namespace, obj_name)

    snap, obj = anyio.run(read)
    if obj is None:
        where, flag = (f" in namespace {target.namespace}", f" -n {target.namespace}") if info.namespaced else ("", "")
        raise CliError(
            f"{info.singular} {obj_name} not found{where}: `aimctl get {info.plural}{flag}` lists what there is"
        )
    result = build_explanation(snap, info.kind, obj)
    if output == "json":
        doc = result.to_dict(snap.now)
        doc["unreadable"] = dict(snap.unreadable)
        typer.echo(json.dumps(doc, indent=2))
    else:
        typer.echo(render.explanation(result, snap.now, colour_enabled()))
        if snap.unreadable:
            typer.echo("\nNot readable with these credentials (shown as Unknown): "
                       + "; ".join(sorted(snap.unreadable.values())))  # fmt: skip
    if result.blocker is not None:
        raise typer.Exit(BLOCKED_EXIT)
