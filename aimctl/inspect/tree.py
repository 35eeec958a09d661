"""The dependency tree of one AIM object and its first blocker (pure; ``aimctl explain``).

Input is a :class:`Snapshot`: the objects the CLI fetched (lists by kind, events, nodes), with the
kinds it could not read. Output is an :class:`Explanation`: a tree of :class:`Node` (kind, name,
state, reason, message, age), the first blocker with a hint, and the recent events of the chain.

The tree follows the operator's own references, in the order a request flows:

* **AIMService** → template (``status.resolvedTemplate``; before resolution: ``spec.templateRef``, the
  image's default, or the derived name for ``overrides``) → runtime config (``spec.runtimeConfigName``)
  → template cache of the template (same namespace and name) → its model caches (controller
  ownership) → PVC and download Job → pods; → InferenceService (same name) → predictor pods;
  → HTTPRoute (same name) → its Gateways.
* **template** → image (``aimImageName``: namespaced first for a namespaced template) → runtime config
  → discovery Jobs (owned by the template) → pods; → ServingRuntime of the same name.
* **AIMTemplateCache** → model caches; **AIMModelCache** → PVC, download Job, pods; images and
  runtime configs are leaves.

**First blocker.** Depth-first in that order, the first failed node none of whose descendants is a
failed node — except that pods and Jobs under a failed node are its evidence, not blockers of their
own (a failed download Job under a failed AIMModelCache names the cache, whose status says what to
change), and that *context* nodes never block: an existing image (its registry metadata does not stop
a template that names it), an existing runtime config, a ServingRuntime. They are shown with their
state all the same. Under a failed node, the child its own reason points at is looked at first (a
service Degraded for ``RuntimeConfigMissing`` is blocked by the runtime config even when its template
has a problem too), so the blocker agrees with what the object itself reports. With no failed node,
the deepest waiting node is what the object is *waiting on*. A missing object that is needed (a
named runtime config, the template) is a failed node with state ``NotFound``; an object the operator
has not created yet is waiting (``NotCreated``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aimctl import labels as L
from aimctl.builders.derived_template import derived_name, is_derived
from aimctl.inspect.hints import hint_for
from aimctl.inspect.state import FAILED, OK, WAITING, Obj, State, age, parse_time, state_of
from aimctl.kube.objects import (
    condition,
    created_at,
    dig,
    dig_list,
    dig_map,
    dig_str,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    owner_refs,
    spec_of,
)
from aimctl.naming import model_cache_job_name, model_cache_pvc_name

#: Kinds that are evidence of their failed parent rather than blockers of their own.
EVIDENCE_KINDS = frozenset({"Pod", "Job"})
ISVC_LABEL = "serving.kserve.io/inferenceservice"
MAX_EVENTS = 10


@dataclass
class Snapshot:
    """What was fetched. ``objects`` maps a kind (``AIMService``, ``Job``, ``Pod``...) to objects of
    every namespace fetched; ``unreadable`` maps a kind to why it could not be read (it is then
    shown as unknown, never as missing)."""

    objects: Mapping[str, Sequence[Obj]]
    now: datetime
    events: Sequence[Obj] = ()
    nodes: Sequence[Obj] | None = None
    unreadable: Mapping[str, str] = field(default_factory=dict)
    operator_namespace: str = L.DEFAULT_OPERATOR_NAMESPACE

    def all(self, kind: str) -> Sequence[Obj]:
        return self.objects.get(kind) or ()

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        for obj in self.all(kind):
            if name_of(obj) == name and namespace_of(obj) == (namespace or None):
                return obj
        return None

    def scoped(self, kind: str, cluster_kind: str, namespace: str | None, name: str) -> tuple[Obj, str] | None:
        """``(object, kind)`` of ``kind`` ``namespace/name`` (when ``namespace`` is given), else of the
        cluster-scoped ``cluster_kind`` ``name`` (how a consumer resolves an image, template or
        runtime config); ``None`` when neither exists."""
        obj = self.get(kind, namespace, name) if namespace else None
        if obj is not None:
            return obj, kind
        obj = self.get(cluster_kind, None, name)
        return (obj, cluster_kind) if obj is not None else None

    def owned_by(self, kind: str, uid: str, *, controller: bool = False) -> list[Obj]:
        out = []
        for obj in self.all(kind):
            for ref in owner_refs(obj):
                if ref.get("uid") == uid and (ref.get("controller") or not controller):
                    out.append(obj)
                    break
        return sorted(out, key=created_at)

    def labelled(self, kind: str, namespace: str, key: str, value: str) -> list[Obj]:
        """Objects of ``namespace`` labelled ``key=value``, oldest first."""
        found = [
            o for o in self.all(kind) if dig(o, "metadata", "namespace") == namespace and labels_of(o).get(key) == value
        ]
        return sorted(found, key=created_at)


@dataclass
class Node:
    """One object of the tree. ``role`` says what it is to its parent (``template``, ``download
    Job``...); ``obj`` is the object itself (None when it does not exist or is unreadable)."""

    kind: str
    name: str
    namespace: str | None
    state: State
    age: str = "-"
    role: str = ""
    note: str = ""
    uid: str = ""
    obj: Obj | None = None
    children: list[Node] = field(default_factory=list)
    hint: str = ""
    #: Shown for context, never a blocker nor what the root waits on (see the module docstring).
    context: bool = False

    @property
    def ref(self) -> str:
        """``Kind ns/name`` (``Kind name`` for cluster-scoped objects)."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            yield from c.walk()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "role": self.role,
            "state": self.state.state,
            "health": self.state.health,
            "reason": self.state.reason,
            "message": self.state.message,
            "age": self.age,
        }
        if self.note:
            out["note"] = self.note
        if self.hint:
            out["hint"] = self.hint
        if self.context:
            out["context"] = True
        out["children"] = [c.to_dict() for c in self.children]
        return out


@dataclass
class Explanation:
    root: Node
    blocker: Node | None
    #: With no blocker: the deepest node still in progress (None when everything is OK).
    waiting_on: Node | None
    events: list[Obj]

    def to_dict(self, now: datetime) -> dict[str, Any]:
        def brief(n: Node | None) -> dict[str, Any] | None:
            if n is None:
                return None
            return {"kind": n.kind, "name": n.name, "namespace": n.namespace, "state": n.state.state,
                    "reason": n.state.reason, "message": n.state.message, "hint": n.hint}  # fmt: skip

        return {
            "tree": self.root.to_dict(),
            "blocker": brief(self.blocker),
            "waitingOn": brief(self.waiting_on),
            "events": [event_row(e, now) for e in self.events],
        }


# -- nodes --------------------------------------------------------------------------------------------


def _node(snap: Snapshot, kind: str, obj: Obj, role: str = "") -> Node:
    meta = meta_of(obj)
    return Node(
        kind=kind,
        name=name_of(obj),
        namespace=namespace_of(obj),
        state=state_of(kind, obj),
        age=age(meta.get("creationTimestamp"), snap.now),
        role=role,
        uid=str(meta.get("uid") or ""),
        obj=obj,
    )


def _absent(snap: Snapshot, kind: str, namespace: str | None, name: str, role: str, *, needed: bool, why: str) -> Node:
    """A node for an object that does not exist (or that the user cannot read)."""
    if kind in snap.unreadable:
        return Node(kind, name, namespace, State("Unknown", WAITING, "Unreadable", snap.unreadable[kind]), role=role)
    if needed:
        return Node(kind, name, namespace, State("NotFound", FAILED, "NotFound", why), role=role)
    return Node(kind, name, namespace, State("NotCreated", WAITING, "NotCreated", why), role=role)


def _context(n: Node) -> Node:
    n.context = True
    return n


def _pods(snap: Snapshot, namespace: str, key: str, value: str, role: str) -> list[Node]:
    return [_node(snap, "Pod", p, role) for p in snap.labelled("Pod", namespace, key, value)]


def _job(snap: Snapshot, job: Obj, role: str) -> Node:
    n = _node(snap, "Job", job, role)
    n.children = _pods(snap, str(job["metadata"].get("namespace")), L.JOB_NAME, n.name, "pod")
    return n


def image_node(snap: Snapshot, namespace: str | None, name: str, role: str = "image") -> Node:
    """``AIMImage <ns>/<name>``, else ``AIMClusterImage <name>``; NotFound when neither exists."""
    return _scoped_node(snap, "AIMImage", "AIMClusterImage", namespace, name, role)


def runtime_config_node(snap: Snapshot, namespace: str | None, name: str, role: str = "runtime config") -> Node:
    """The config a consumer in ``namespace`` uses (namespaced first). The implicit ``default`` may
    exist at neither scope (the built-in defaults apply): that is OK, any other name is NotFound."""
    name = name or "default"
    defaults = None
    if name == "default":
        defaults = Node("AIMRuntimeConfig", name, namespace, State("Defaults", OK), role=role,
                        note="none exists: built-in defaults")  # fmt: skip
    return _scoped_node(snap, "AIMRuntimeConfig", "AIMClusterRuntimeConfig", namespace, name, role, defaults)


def _scoped_node(
    snap: Snapshot,
    kind: str,
    cluster_kind: str,
    namespace: str | None,
    name: str,
    role: str,
    absent: Node | None = None,
) -> Node:
    """The object ``kind`` ``namespace/name`` (when ``namespace`` is given), else ``cluster_kind``
    ``name`` (see :meth:`Snapshot.scoped`); when neither exists, ``absent``, or a NotFound node."""
    found = snap.scoped(kind, cluster_kind, namespace, name)
    if found is not None:
        return _context(_node(snap, found[1], found[0], role))
    if absent is not None:
        return absent
    where = f'in namespace "{namespace}" nor ' if namespace else ""
    why = f'no {kind} "{name}" {where}{cluster_kind} "{name}"'
    return _absent(snap, kind if namespace else cluster_kind, namespace, name, role, needed=True, why=why)


def model_cache_node(snap: Snapshot, cache: Obj, role: str = "model cache") -> Node:
    n = _node(snap, "AIMModelCache", cache, role)
    n.note = dig_str(cache, "spec", "sourceUri")
    ns = str(cache["metadata"].get("namespace"))
    pvc_name = dig_str(cache, "status", "persistentVolumeClaim", default=model_cache_pvc_name(n.name))
    pvc = snap.get("PersistentVolumeClaim", ns, pvc_name)
    if pvc is not None:
        n.children.append(_node(snap, "PersistentVolumeClaim", pvc, "volume"))
    elif n.state.health != OK:
        n.children.append(_absent(snap, "PersistentVolumeClaim", ns, pvc_name, "volume", needed=False,
                                  why="the cache creates its PVC first"))  # fmt: skip
    job = snap.get("Job", ns, model_cache_job_name(n.name))
    if job is not None:
        n.children.append(_job(snap, job, "download Job"))
    return n


def template_cache_node(snap: Snapshot, tc: Obj, role: str = "template cache") -> Node:
    n = _node(snap, "AIMTemplateCache", tc, role)
    n.children = [model_cache_node(snap, c) for c in snap.owned_by("AIMModelCache", n.uid, controller=True)]
    return n


def template_node(snap: Snapshot, tpl: Obj, kind: str, role: str = "template") -> Node:
    n = _node(snap, kind, tpl, role)
    spec = spec_of(tpl)
    notes = []
    if is_derived(tpl):
        notes.append("derived")
    gpu = dig_map(spec, "gpuSelector")
    if gpu.get("model"):
        notes.append(f"{gpu.get('count') or 1}x {gpu['model']}")
    n.note = ", ".join(notes)
    namespaced = kind == "AIMServiceTemplate"
    if spec.get("aimImageName"):
        n.children.append(image_node(snap, n.namespace if namespaced else None, str(spec["aimImageName"])))
    rc_ns = n.namespace if namespaced else snap.operator_namespace
    n.children.append(runtime_config_node(snap, rc_ns, str(spec.get("runtimeConfigName") or "default")))
    for job in snap.owned_by("Job", n.uid):
        n.children.append(_job(snap, job, "discovery Job"))
    runtime_kind = "ServingRuntime" if namespaced else "ClusterServingRuntime"
    runtime = snap.get(runtime_kind, n.namespace if namespaced else None, n.name)
    if runtime is not None:
        n.children.append(_context(_node(snap, runtime_kind, runtime, "serving runtime")))
    return n


def service_template(snap: Snapshot, svc: Obj) -> tuple[str, tuple[Obj, str] | None]:
    """The template a service uses: ``status.resolvedTemplate`` when it names an existing one, else
    what resolution would look for (the name, and the object if it exists)."""
    ns = str(svc["metadata"]["namespace"])
    spec = spec_of(svc)
    resolved = dig_map(svc, "status", "resolvedTemplate")
    if resolved.get("kind") in ("AIMServiceTemplate", "AIMClusterServiceTemplate") and resolved.get("name"):
        kind, name = str(resolved["kind"]), str(resolved["name"])
        obj = snap.get(kind, ns if kind == "AIMServiceTemplate" else None, name)
        if obj is not None:
            return name, (obj, kind)
    base = str(spec.get("templateRef") or "").strip()
    if not base:
        img_name = str(spec.get("aimImageName") or "")
        img = snap.get("AIMImage", ns, img_name) or snap.get("AIMClusterImage", None, img_name)
        base = dig_str(img, "spec", "defaultServiceTemplate")
    if not base:
        return "", None
    name = derived_name(base, spec["overrides"]) if spec.get("overrides") is not None else base
    return name, snap.scoped("AIMServiceTemplate", "AIMClusterServiceTemplate", ns, name)


def service_node(snap: Snapshot, svc: Obj) -> Node:
    n = _node(snap, "AIMService", svc, "")
    ns = str(n.namespace)
    spec = spec_of(svc)
    n.note = dig_str(svc, "status", "routing", "path")
    name, found = service_template(snap, svc)
    if found is not None:
        n.children.append(template_node(snap, found[0], found[1]))
        tc = snap.get("AIMTemplateCache", ns, name)
        if tc is not None:
            n.children.append(template_cache_node(snap, tc))
    else:
        why = dig_str(condition(svc, "Resolved"), "message") or (
            f'no AIMServiceTemplate "{name}" in "{ns}" nor AIMClusterServiceTemplate'
        )
        n.children.append(_absent(snap, "AIMServiceTemplate", ns, name or "(none)", "template", needed=True, why=why))
    n.children.append(runtime_config_node(snap, ns, str(spec.get("runtimeConfigName") or "default")))
    isvc = snap.get("InferenceService", ns, n.name)
    if isvc is not None:
        isvc_node = _node(snap, "InferenceService", isvc, "inference service")
        isvc_node.note = dig_str(isvc, "status", "url")
        isvc_node.children = _pods(snap, ns, ISVC_LABEL, n.name, "predictor pod")
        n.children.append(isvc_node)
    else:
        n.children.append(
            _absent(
                snap,
                "InferenceService",
                ns,
                n.name,
                "inference service",
                needed=False,
                why="created once the template is Available and nothing blocks the service",
            )
        )
    route = snap.get("HTTPRoute", ns, n.name)
    routing_wanted = bool(dig(spec, "routing", "enabled")) or bool(n.note)
    if route is not None:
        route_node = _node(snap, "HTTPRoute", route, "route")
        for ref in dig_list(route, "spec", "parentRefs"):
            gw_ns = str(ref.get("namespace") or ns)
            gw = snap.get("Gateway", gw_ns, str(ref.get("name")))
            route_node.children.append(
                _node(snap, "Gateway", gw, "gateway") if gw is not None
                else _absent(snap, "Gateway", gw_ns, str(ref.get("name")), "gateway", needed=True,
                             why="the route's parentRef names a Gateway that does not exist")
            )  # fmt: skip
        n.children.append(route_node)
    elif routing_wanted:
        n.children.append(_absent(snap, "HTTPRoute", ns, n.name, "route", needed=False,
                                  why="created with the InferenceService when routing is enabled"))  # fmt: skip
    return n


def root_node(snap: Snapshot, kind: str, obj: Obj) -> Node:
    """The tree of an object of any AIM kind."""
    if kind == "AIMService":
        return service_node(snap, obj)
    if kind in ("AIMServiceTemplate", "AIMClusterServiceTemplate"):
        n = template_node(snap, obj, kind, "")
        if kind == "AIMServiceTemplate":
            tc = snap.get("AIMTemplateCache", n.namespace, n.name)
            if tc is not None:
                n.children.append(template_cache_node(snap, tc))
        return n
    if kind == "AIMTemplateCache":
        return template_cache_node(snap, obj, "")
    if kind == "AIMModelCache":
        return model_cache_node(snap, obj, "")
    return _node(snap, kind, obj, "")


# -- blocker, events ----------------------------------------------------------------------------------


#: A failed object's reason → the role of the child that reason is about.
REASON_ROLES = {
    "RuntimeConfigMissing": "runtime config",
    "ImageNotFound": "image",
    "TemplateNotFound": "template",
    "GPUNotAvailable": "template",
    "TemplateDegraded": "template",
    "TemplateNotAvailable": "template",
    "CacheFailed": "template cache",
    "WaitingForCache": "template cache",
    "ModelCacheFailed": "model cache",
    "RuntimeFailed": "inference service",
    "CreatingRuntime": "inference service",
    "RouteFailed": "route",
}


def _by_relevance(n: Node) -> list[Node]:
    """Children, those the node's own reason is about first (stable otherwise)."""
    role = REASON_ROLES.get(n.state.reason)
    return sorted(
        n.children, key=lambda c: 0 if c.role == role or (c.state.reason and c.state.reason == n.state.reason) else 1
    )


def first_blocker(root: Node) -> Node | None:
    """The first failed node without failed descendants (pods and Jobs of a failed node excepted)."""

    def visit(n: Node) -> Node | None:
        failed = n.state.health == FAILED
        for c in _by_relevance(n) if failed else n.children:
            if c.context or (failed and c.kind in EVIDENCE_KINDS):
                continue
            found = visit(c)
            if found is not None:
                return found
        return n if failed else None

    return visit(root)


def waiting_on(root: Node) -> Node | None:
    """The deepest waiting node, first in depth-first order (None when nothing waits)."""
    best: tuple[int, Node] | None = None

    def visit(n: Node, depth: int) -> None:
        nonlocal best
        if n.state.health == WAITING and (best is None or depth > best[0]):
            best = (depth, n)
        for c in n.children:
            if not c.context:
                visit(c, depth + 1)

    visit(root, 0)
    return best[1] if best else None


def event_time(event: Obj) -> str:
    return str(
        dig(event, "series", "lastObservedTime")
        or event.get("eventTime")
        or event.get("deprecatedLastTimestamp")
        or event.get("lastTimestamp")
        or created_at(event)
    )


def _regarding(event: Obj) -> Mapping[str, Any]:
    """The object an event is about (``regarding`` in events.k8s.io/v1, ``involvedObject`` in core/v1)."""
    return dig_map(event, "regarding") or dig_map(event, "involvedObject")


def event_row(event: Obj, now: datetime) -> dict[str, str]:
    regarding = _regarding(event)
    return {
        "age": age(event_time(event), now),
        "type": str(event.get("type") or ""),
        "reason": str(event.get("reason") or ""),
        "object": f"{regarding.get('kind', '')}/{regarding.get('name', '')}",
        "message": str(event.get("note") or event.get("message") or ""),
    }


def chain_events(snap: Snapshot, root: Node) -> list[Obj]:
    """The last :data:`MAX_EVENTS` events about any object of the tree, oldest first."""
    uids = {n.uid for n in root.walk() if n.uid}
    mine = [e for e in snap.events if _regarding(e).get("uid") in uids]
    mine.sort(key=lambda e: parse_time(event_time(e)) or snap.now)
    return mine[-MAX_EVENTS:]


def explain(snap: Snapshot, kind: str, obj: Obj) -> Explanation:
    """The tree of ``obj`` (of AIM ``kind``), its first blocker (with a hint) and its recent events."""
    root = root_node(snap, kind, obj)
    blocker = first_blocker(root)
    waiting = None if blocker is not None else waiting_on(root)
    for n in (blocker, waiting):
        if n is not None:
            n.hint = hint_for(n, snap)
    return Explanation(root, blocker, waiting, chain_events(snap, root))
