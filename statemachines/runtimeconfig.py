"""AIMRuntimeConfig / AIMClusterRuntimeConfig: is this config usable as written?

Runtime configs have no lifecycle of their own (their status has only ``conditions`` and
``observedGeneration``), but a mistake in one silently breaks every consumer — routing enabled without
a gateway, a pull secret that does not exist, a storage class that does not exist. So the controller
checks what can be checked from the caches and reports each aspect as a condition, with ``Ready``
summarising them (DESIGN.md §5 #2).

States are internal (the API has no status enum for these kinds): ``Pending`` (never reconciled),
``Valid`` and ``Invalid``; the controller derives the current one from the ``Ready`` condition and
never writes ``status.status``. Conditions:

================== ========================================= ==========================================
type               True                                      False
================== ========================================= ==========================================
RoutingValid       ``RoutingDisabled`` / ``GatewayConfigured`` ``GatewayRefMissing`` / ``RouteTemplateInvalid``
PullSecretsFound   ``NoPullSecrets`` / ``PullSecretsFound``  ``PullSecretMissing`` (namespaced kind only)
StorageClassFound  ``NoDefaultStorageClass`` / ``Found``     ``StorageClassNotFound``
Ready              ``Valid``                                 the reason of the first failing aspect
================== ========================================= ==========================================

``RouteTemplateInvalid`` reports a ``spec.routing.routeTemplate`` that no service could render (too
long, or not the supported JSONPath): the check is made by the controller, the message names the field
and what to write instead. It is reported even when the config does not enable routing itself, since
services that enable routing use the config's template.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from statemachines.effects import EmitEvent
from statemachines.engine import ANY, KindMachine, Outcome, Rule, always

PENDING, VALID, INVALID = "Pending", "Valid", "Invalid"
STATES = (PENDING, VALID, INVALID)


@dataclass(frozen=True)
class RuntimeConfigObservation:
    """What the caches say about one runtime config (plain data)."""

    kind: str
    routing_enabled: bool = False
    gateway_ref_set: bool = False
    pull_secrets: tuple[str, ...] = ()
    missing_pull_secrets: tuple[str, ...] = ()
    storage_class: str | None = None
    storage_class_found: bool = True
    namespaced: bool = True
    #: What is wrong with ``spec.routing.routeTemplate`` (empty: nothing, or no template).
    route_template_error: str = ""
    problems: tuple[tuple[str, str], ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        if self.routing_enabled and not self.gateway_ref_set:
            problems.append(
                (
                    "GatewayRefMissing",
                    "routing.enabled is true but routing.gatewayRef is not set: consumers that do not name "
                    "their own gateway cannot be routed",
                )
            )
        if self.route_template_error:
            problems.append(
                ("RouteTemplateInvalid", f"spec.routing.routeTemplate is invalid: {_shown(self.route_template_error)}")
            )
        if self.missing_pull_secrets:
            names = ", ".join(f'"{_shown(n)}"' for n in self.missing_pull_secrets)
            problems.append(("PullSecretMissing", f"image pull secret(s) not found in this namespace: {names}"))
        if self.storage_class and not self.storage_class_found:
            problems.append(("StorageClassNotFound", f'StorageClass "{_shown(self.storage_class)}" does not exist'))
        object.__setattr__(self, "problems", tuple(problems))


def _shown(text: str) -> str:
    """A user-supplied string as it may appear in a message: printable, Basic Multilingual Plane only
    (the apiserver's YAML decoder refuses the surrogate-pair escapes of other characters)."""
    return "".join(c if c.isprintable() and ord(c) < 0x10000 else "\ufffd" for c in text)


def _aspects(obs: RuntimeConfigObservation, out: Outcome) -> None:
    if obs.routing_enabled and not obs.gateway_ref_set:
        out.condition("RoutingValid", False, "GatewayRefMissing", dict(obs.problems)["GatewayRefMissing"])
    elif obs.route_template_error:
        out.condition("RoutingValid", False, "RouteTemplateInvalid", dict(obs.problems)["RouteTemplateInvalid"])
    elif not obs.routing_enabled:
        out.condition("RoutingValid", True, "RoutingDisabled", "Routing is not enabled by this config")
    else:
        out.condition("RoutingValid", True, "GatewayConfigured", "Routing is enabled with a gateway reference")
    if obs.namespaced:
        if obs.missing_pull_secrets:
            out.condition("PullSecretsFound", False, "PullSecretMissing", dict(obs.problems)["PullSecretMissing"])
        elif obs.pull_secrets:
            out.condition("PullSecretsFound", True, "PullSecretsFound", "All image pull secrets exist")
        else:
            out.condition("PullSecretsFound", True, "NoPullSecrets", "No image pull secrets are configured")
    if not obs.storage_class:
        out.condition("StorageClassFound", True, "NoDefaultStorageClass", "No default storage class is configured")
    elif obs.storage_class_found:
        out.condition("StorageClassFound", True, "Found", f'StorageClass "{_shown(obs.storage_class)}" exists')
    else:
        out.condition("StorageClassFound", False, "StorageClassNotFound", dict(obs.problems)["StorageClassNotFound"])


def _invalid(obs: RuntimeConfigObservation, out: Outcome) -> None:
    _aspects(obs, out)
    reason, message = obs.problems[0]
    if len(obs.problems) > 1:
        message += f" (and {len(obs.problems) - 1} more problem(s), see the other conditions)"
    out.condition("Ready", False, reason, message)
    out.reason, out.message = reason, message
    out.effect(EmitEvent("Warning", reason, message))


def _valid(obs: RuntimeConfigObservation, out: Outcome) -> None:
    _aspects(obs, out)
    out.condition("Ready", True, "Valid", f"{obs.kind} is valid")
    out.reason, out.message = "Valid", f"{obs.kind} is valid"


MACHINE: KindMachine[RuntimeConfigObservation] = KindMachine(
    "RuntimeConfig",
    STATES,
    PENDING,
    [
        Rule("report_problems", ANY, INVALID, lambda o: bool(o.problems), _invalid,
             doc="Something consumers rely on is missing or inconsistent."),
        Rule("accept", ANY, VALID, always, _valid, doc="Nothing to report."),
    ],
)  # fmt: skip


def state_from_conditions(conditions: list[dict[str, object]] | None) -> str | None:
    """The state recorded by the last write: ``Ready`` True → Valid, False → Invalid, else None."""
    for c in conditions or []:
        if c.get("type") == "Ready":
            return VALID if c.get("status") == "True" else INVALID
    return None
