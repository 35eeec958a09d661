"""``aimctl get [KIND]``: AIM resources of one kind or all, with status, age and key fields.

``-o table`` (default), ``wide``, ``json`` or ``yaml``; ``-A`` for all namespaces; ``-w`` re-reads
every ``--interval`` seconds and shows the table again when it changed (on a terminal the screen is
redrawn in place, otherwise each change is printed below the last). Colours only on a terminal.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Annotated

import anyio
import typer
import yaml

from aimctl.api.kinds import KindInfo
from aimctl.cli.access import CliError, connect, resolve_target
from aimctl.cli.fetch import snapshot_for_get
from aimctl.cli.options import ContextOpt, KubeconfigOpt, NamespaceOpt, colour_enabled, one_line_errors
from aimctl.inspect import render
from aimctl.inspect.table import UnknownKind, as_list, build_table, resolve_kinds
from aimctl.inspect.tree import Snapshot

OUTPUTS = ("table", "wide", "json", "yaml")
CLEAR_SCREEN = "\x1b[H\x1b[2J"


def render_tables(kinds: list[KindInfo], snap: Snapshot, *, all_namespaces: bool, wide: bool, colour: bool) -> str:
    """One table per kind with objects, separated by blank lines (names prefixed when several kinds)."""
    prefix = len(kinds) > 1
    blocks = []
    for info in kinds:
        if not snap.all(info.kind):
            continue
        t = build_table(info, snap, all_namespaces=all_namespaces, wide=wide, prefix=prefix)
        blocks.append(render.table(t.header, t.rows, t.healths, colour, t.status_column))
    return "\n\n".join(blocks)


def render_objects(kinds: list[KindInfo], snap: Snapshot, output: str) -> str:
    items = [o for info in kinds for o in sorted(
        snap.all(info.kind), key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))]  # fmt: skip
    doc = as_list(items)
    if output == "json":
        return json.dumps(doc, indent=2)
    return yaml.safe_dump(doc, sort_keys=False).rstrip("\n")


@one_line_errors
def get(
    kind: Annotated[
        str | None,
        typer.Argument(
            help="Kind(s), comma-separated: plural, singular or short name (aimsvc); default: all AIM kinds."
        ),
    ] = None,
    namespace: NamespaceOpt = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Every namespace.")] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="table, wide, json or yaml.")] = "table",
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Show the table again whenever it changes.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between reads with --watch.", min=0.2)] = 2.0,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """List AIM resources: status, age and key fields (services: template, GPU, ready replicas, URL)."""
    if output not in OUTPUTS:
        raise CliError(f"--output {output!r} is not one of {', '.join(OUTPUTS)}")
    if watch and output not in ("table", "wide"):
        raise CliError("--watch shows tables: use it with -o table or -o wide")
    try:
        kinds = resolve_kinds(kind)
    except UnknownKind as e:
        raise CliError(str(e)) from None
    target = resolve_target(kubeconfig, context, namespace)
    ns = None if all_namespaces else target.namespace
    colour = colour_enabled()

    def text(snap: Snapshot) -> str:
        if output in ("json", "yaml"):
            return render_objects(kinds, snap, output)
        return render_tables(kinds, snap, all_namespaces=all_namespaces, wide=output == "wide", colour=colour)

    async def read() -> Snapshot:
        async with connect(target) as reader:
            return await snapshot_for_get(reader, kinds, ns)

    if not watch:
        out = text(anyio.run(read))
        if out:
            typer.echo(out)
        else:
            typer.echo(f"No resources found{f' in {ns} namespace' if ns else ''}.", err=True)
        return
    last = None
    terminal = sys.stdout.isatty()
    try:
        while True:
            out = text(anyio.run(read)) or f"No resources found{f' in {ns} namespace' if ns else ''}."
            if out != last:
                stamp = datetime.now(UTC).strftime("%H:%M:%S")
                if terminal:
                    typer.echo(f"{CLEAR_SCREEN}every {interval:g}s: aimctl get {kind or 'aim'}   {stamp}\n\n{out}")
                else:
                    typer.echo(("" if last is None else "\n") + f"[{stamp}]\n{out}")
                last = out
            time.sleep(interval)
    except KeyboardInterrupt:
        return
