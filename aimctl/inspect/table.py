"""The rows of ``aimctl get`` (pure): which kinds a name means, and each kind's columns.

Names follow the CRDs (:mod:`aimctl.api.kinds`): kind (``AIMService``), plural (``aimservices``),
singular (``aimservice``), short name (``aimsvc``), optionally with the group suffix
(``aimservices.aim.silogen.ai``), case-insensitive, comma-separated; ``aim`` or ``all`` (or none) is
every kind. Columns are NAME, STATUS, the kind's printer columns (``-o wide`` adds the wide ones and
REASON), AGE; AIMServices show TEMPLATE, GPU, READY (ready predictor pods, else the copies KServe
reports, / wanted replicas) and URL instead, computed from the template, the InferenceService and
its pods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aimctl.api.kinds import KINDS, KindInfo, PrinterColumn
from aimctl.inspect.state import OK, Health, Obj, age, ready_pods, state_of
from aimctl.inspect.tree import ISVC_LABEL, Snapshot, service_template
from aimctl.kube.objects import deleting, dig_list, dig_map, dig_str, meta_of, namespace_of, spec_of

GROUP_SUFFIX = ".aim.silogen.ai"
ALL_NAMES = frozenset({"aim", "all"})


class UnknownKind(ValueError):
    """A name that is no AIM kind; the message lists the accepted names."""


def _names(info: KindInfo) -> set[str]:
    return {info.kind.lower(), info.plural, info.singular, *info.short_names}


def resolve_kinds(arg: str | None) -> list[KindInfo]:
    """The kinds ``arg`` names (see the module docstring); :class:`UnknownKind` otherwise."""
    if not arg:
        return list(KINDS)
    out: list[KindInfo] = []
    for part in (p.strip().lower() for p in arg.split(",")):
        part = part.removesuffix(GROUP_SUFFIX)
        if part in ALL_NAMES:
            out.extend(k for k in KINDS if k not in out)
            continue
        match = next((k for k in KINDS if part in _names(k)), None)
        if match is None:
            known = ", ".join(f"{k.plural} ({'/'.join(k.short_names)})" for k in KINDS)
            raise UnknownKind(f'"{part}" is not an AIM kind; use one of: {known}, or "aim" for all')
        if match not in out:
            out.append(match)
    return out


def json_path(obj: Obj, path: str) -> str:
    """A printer column's simple JSONPath (``.spec.gpuSelector.count``); "" when absent."""
    value: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _extra_columns(info: KindInfo, wide: bool) -> list[PrinterColumn]:
    return [
        c for c in info.printer_columns
        if c.name not in ("Status", "Ready", "Age") and (wide or c.priority == 0)
    ]  # fmt: skip


@dataclass(frozen=True)
class Table:
    kind: KindInfo
    header: list[str]
    rows: list[list[str]]
    healths: list[Health]
    #: Index of the STATUS column (coloured by health).
    status_column: int


def _gpu(snap: Snapshot, svc: Obj) -> str:
    _, found = service_template(snap, svc)
    gpu = dig_map(found[0] if found else None, "spec", "gpuSelector")
    if not gpu.get("model"):
        return "-"
    return f"{gpu.get('count') or 1}x {gpu['model']}"


def _replicas(snap: Snapshot, svc: Obj) -> str:
    """``ready/wanted``: Ready predictor pods when there are any to see, else the copies KServe
    reports running (``status.modelStatus.copies``: total minus failed), else 0 (``?`` when neither
    pods nor InferenceServices are readable)."""
    meta = svc["metadata"]
    wanted = str(spec_of(svc).get("replicas", 1))
    pods = [p for p in snap.labelled("Pod", meta["namespace"], ISVC_LABEL, meta["name"]) if not deleting(p)]
    if pods:
        return f"{ready_pods(pods)}/{wanted}"
    isvc = snap.get("InferenceService", meta["namespace"], meta["name"])
    if isvc is not None:
        copies = dig_map(isvc, "status", "modelStatus", "copies")
        running = int(copies.get("totalCopies") or 0) - int(copies.get("failedCopies") or 0)
        return f"{max(0, running)}/{wanted}"
    if "Pod" in snap.unreadable and "InferenceService" in snap.unreadable:
        return f"?/{wanted}"
    return f"0/{wanted}"


def _gateway_address(snap: Snapshot, route: Obj | None) -> str:
    for ref in dig_list(route, "spec", "parentRefs"):
        gw = snap.get("Gateway", ref.get("namespace") or namespace_of(route), str(ref.get("name")))
        for addr in dig_list(gw, "status", "addresses"):
            if addr.get("value"):
                return str(addr["value"])
    return ""


def service_url(snap: Snapshot, svc: Obj) -> str:
    """``http://<gateway address><path>`` when routed (the path alone if the address is unknown),
    else the InferenceService's URL; ``-`` before either exists."""
    meta = svc["metadata"]
    path = dig_str(svc, "status", "routing", "path")
    if path:
        address = _gateway_address(snap, snap.get("HTTPRoute", meta["namespace"], meta["name"]))
        return f"http://{address}{path}" if address else path
    isvc = snap.get("InferenceService", meta["namespace"], meta["name"])
    return dig_str(isvc, "status", "url", default="-")


def build_table(info: KindInfo, snap: Snapshot, *, all_namespaces: bool, wide: bool, prefix: bool) -> Table:
    """The table of one kind's objects in ``snap`` (sorted by namespace and name)."""
    objs = sorted(snap.all(info.kind), key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
    header = ["NAMESPACE"] if all_namespaces and info.namespaced else []
    header += ["NAME", "STATUS"]
    status_column = len(header) - 1
    if info.kind == "AIMService":
        header += ["TEMPLATE", "GPU", "READY", "URL"]
    else:
        header += [c.name.upper() for c in _extra_columns(info, wide)]
    if wide:
        header.append("REASON")
    header.append("AGE")
    rows, healths = [], []
    for obj in objs:
        meta = obj["metadata"]
        st = state_of(info.kind, obj)
        row = [str(meta.get("namespace") or "")] if all_namespaces and info.namespaced else []
        row += [f"{info.singular}/{meta['name']}" if prefix else str(meta["name"]), st.state]
        if info.kind == "AIMService":
            row += [
                json_path(obj, ".status.resolvedTemplate.name") or dig_str(obj, "spec", "templateRef", default="-"),
                _gpu(snap, obj),
                _replicas(snap, obj),
                service_url(snap, obj),
            ]
        else:
            row += [json_path(obj, c.json_path) or "-" for c in _extra_columns(info, wide)]
        if wide:
            row.append(st.reason if st.health != OK and st.reason else "-")
        row.append(age(meta.get("creationTimestamp"), snap.now))
        rows.append(row)
        healths.append(st.health)
    return Table(info, header, rows, healths, status_column)


def clean(obj: Obj) -> dict[str, Any]:
    """The object for ``-o json|yaml``: without ``metadata.managedFields`` (noise for a reader)."""
    out = dict(obj)
    out["metadata"] = {k: v for k, v in meta_of(obj).items() if k != "managedFields"}
    return out


def as_list(objs: Sequence[Obj]) -> dict[str, Any]:
    """A ``v1 List`` like ``kubectl get -o json`` prints."""
    return {"apiVersion": "v1", "kind": "List", "items": [clean(o) for o in objs], "metadata": {"resourceVersion": ""}}
