"""The shared machinery of every AIM state machine: rules, a transitions ``Machine``, a decision.

Why this shape (``docs/architecture.md``, "The reconcile pipeline"): the operator is
level-triggered, so the state is *derived* from an observation every time, never remembered. Each
kind declares an ordered list of :class:`Rule` — a named transition with source states, a
destination, a guard (a pure function of the observation) and an action (a pure function that
declares conditions, status fields and effects). One synchronous ``transitions.Machine`` per kind is
built once at import from those rules, with one model per kind added to it once (adding a model
makes a bound method per rule and per state: 60-140 µs a time, the cost that dominated a decision
when each reconcile added and removed its own). Each decision sets that model to the state read
from ``status.status``, finds the first rule whose source and guard match, and fires that rule's
trigger on the machine, which makes the transition and runs the rule's action (about 15 µs). The
machine is the rulebook; the controller does the I/O the decision declares.

Guarantees:

* :meth:`KindMachine.decide` is pure and deterministic: same observation and state, same decision.
* Exactly one rule fires per decision. The last rule of every kind must be a catch-all, otherwise a
  :class:`NoRuleMatched` error names the state and the kind (a programming error, not a user error).
* A decision whose destination differs from the source carries ``transition=(src, dst)``; controllers
  emit one event and count one transition metric per such decision, never one per reconcile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from transitions import Machine

from statemachines.effects import Condition, Effect

#: The observation a rule or machine reads. Contravariant: they only consume it, so a machine of
#: ``ServiceObservation`` is a machine of any subclass a controller adds builder fields to.
Obs = TypeVar("Obs", contravariant=True)

#: Any state: the rule applies whatever ``status.status`` currently says.
ANY = "*"


class NoRuleMatched(RuntimeError):
    """No rule of a kind matched an observation (the kind's rule list lacks a catch-all)."""


@dataclass
class Outcome:
    """What the actions of one decision declare; filled in by rule actions, then frozen."""

    conditions: list[Condition] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    #: Extra status fields to write (camelCase JSON names), e.g. ``{"profile": {...}}``.
    status: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    message: str = ""
    #: Durable memory the API status has no field for (JSON-able), recomputed by every decision like
    #: the conditions: what a decision does not declare is forgotten. The controller keeps it in an
    #: operator-owned annotation of the object (``KindController.memory_annotation``) and hands it
    #: back in the next observation; condition messages stay free text for people.
    memory: dict[str, Any] = field(default_factory=dict)

    def condition(self, type_: str, status: bool | str, reason: str, message: str = "") -> None:
        """Declare a condition; a later declaration of the same type replaces an earlier one."""
        value = status if isinstance(status, str) else ("True" if status else "False")
        self.conditions = [c for c in self.conditions if c.type != type_]
        self.conditions.append(Condition(type_, value, reason, message))

    def effect(self, *effects: Effect) -> None:
        self.effects.extend(effects)

    def settle(self, ready: bool, reason: str, message: str, *, failure: bool = False) -> None:
        """A state that is not progressing: ``Ready`` as given and ``Progressing=False``, both with
        ``reason`` and ``message``; ``Failure=True`` with them too when ``failure``, else
        ``Failure=False`` (``NoFailure``); the status reason and message are ``reason``/``message``."""
        self.condition("Ready", ready, reason, message)
        self.condition("Progressing", False, reason, message)
        if failure:
            self.condition("Failure", True, reason, message)
        else:
            self.condition("Failure", False, "NoFailure")
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Decision:
    """The result of one reconcile's state machine step."""

    rule: str
    source: str
    state: str
    conditions: tuple[Condition, ...]
    effects: tuple[Effect, ...]
    status: Mapping[str, Any]
    reason: str
    message: str
    memory: Mapping[str, Any] = field(default_factory=dict)

    @property
    def transition(self) -> tuple[str, str] | None:
        """``(from, to)`` when the state changed, else None."""
        return (self.source, self.state) if self.source != self.state else None


@dataclass(frozen=True)
class Rule(Generic[Obs]):
    """A named transition: from ``source`` to ``dest`` when ``guard(obs)``, declaring ``action``.

    ``dest`` may be :data:`SAME` to stay in the current state (an internal transition).
    """

    name: str
    source: str | Sequence[str]
    dest: str
    guard: Callable[[Obs], bool]
    action: Callable[[Obs, Outcome], None] = lambda _obs, _out: None
    doc: str = ""


#: Destination meaning "stay where you are".
SAME = "="


def always(_obs: object) -> bool:
    """Guard of catch-all rules."""
    return True


class _Model:
    """The model decisions run on (transitions injects its trigger methods once, when it is added).

    Reused: :meth:`KindMachine.decide` takes one from its kind's pool, sets it up and gives it back
    emptied, so no observation outlives its decision. Decisions are synchronous, so one model per
    kind serves an event loop; the pool only grows if a decision runs inside another."""

    def __init__(self) -> None:
        self.obs: Any = None
        self.out = Outcome()
        self.fired: str | None = None
        self.chosen: str | None = None
        self.state: str = ""

    def clear(self) -> None:
        self.obs, self.out, self.fired, self.chosen = None, Outcome(), None, None


class KindMachine(Generic[Obs]):
    """One kind's rulebook: its states, its ordered rules and the transitions ``Machine`` built from them."""

    def __init__(self, kind: str, states: Iterable[str], initial: str, rules: Sequence[Rule[Obs]]) -> None:
        self.kind = kind
        self.states: tuple[str, ...] = tuple(states)
        self.initial = initial
        self.rules: tuple[Rule[Obs], ...] = tuple(rules)
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"{kind}: duplicate rule names in {names}")
        self._by_name = {r.name: r for r in self.rules}
        #: Per source state, the rules that may fire from it, in declaration order.
        self._from: dict[str, tuple[Rule[Obs], ...]] = {}
        #: Models added to the machine once and reused (see :class:`_Model`).
        self._pool: list[_Model] = []
        self.machine = Machine(
            model=None,
            states=list(self.states),
            initial=initial,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
            model_attribute="state",
        )
        for rule in self.rules:
            sources: list[Any] = list(self.states) if rule.source == ANY else _as_list(rule.source)
            for src in sources:
                if src not in self.states:
                    raise ValueError(f"{kind}: rule {rule.name} has unknown source state {src!r}")
            if rule.dest != SAME and rule.dest not in self.states:
                raise ValueError(f"{kind}: rule {rule.name} has unknown destination {rule.dest!r}")
            self.machine.add_transition(
                trigger=rule.name,
                source=sources,
                dest=None if rule.dest == SAME else rule.dest,
                conditions=[self._guard(rule)],
                after=[self._action(rule)],
            )
        for state in self.states:
            self._from[state] = tuple(r for r in self.rules if self._applies(r, state))

    @staticmethod
    def _guard(rule: Rule[Obs]) -> Callable[[Any], bool]:
        # The guard was evaluated by decide() when it chose this rule (guards are pure): the
        # machine's condition only confirms that this is the chosen rule.
        def check(event: Any) -> bool:
            return bool(event.model.chosen == rule.name)

        return check

    @staticmethod
    def _action(rule: Rule[Obs]) -> Callable[[Any], None]:
        def act(event: Any) -> None:
            model: _Model = event.model
            model.fired = rule.name
            obs: Obs = model.obs
            rule.action(obs, model.out)

        return act

    def normalise(self, current: str | None) -> str:
        """The state to start from: ``status.status`` if it is one of ours, else the initial state."""
        return current if current in self.states else self.initial

    def decide(self, obs: Obs, current: str | None) -> Decision:
        """Fire the first rule whose source and guard match; return what it declared."""
        source = self.normalise(current)
        for rule in self._from[source]:
            if rule.guard(obs):
                break
        else:
            raise NoRuleMatched(f"{self.kind}: no rule matched in state {source!r}")
        model = self._pool.pop() if self._pool else self._new_model()
        try:
            model.obs, model.chosen = obs, rule.name
            self.machine.set_state(source, model)
            if not getattr(model, rule.name)():  # pragma: no cover - the condition is the choice
                raise AssertionError(f"{self.kind}: rule {rule.name} chosen but not fired")
            assert model.fired is not None
            out = model.out
            decision = Decision(
                rule=model.fired,
                source=source,
                state=model.state,
                conditions=tuple(out.conditions),
                effects=tuple(out.effects),
                status=dict(out.status),
                reason=out.reason,
                message=out.message,
                memory=dict(out.memory),
            )
        finally:
            model.clear()
            self._pool.append(model)
        return decision

    def _new_model(self) -> _Model:
        model = _Model()
        self.machine.add_model(model, initial=self.initial)
        return model

    def _applies(self, rule: Rule[Obs], state: str) -> bool:
        return rule.source == ANY or state in _as_list(rule.source)

    def state_dependent(self) -> bool:
        """Whether any rule fires only from some states (else the machine is a pure decision table:
        the first rule whose guard holds decides, whatever the current state)."""
        return any(rule.source != ANY for rule in self.rules)

    def mermaid(self, any_state: bool = True) -> str:
        """A mermaid ``stateDiagram-v2`` of the rules (generated into the docs; see ``aimctl docs``).

        One arrow per rule and source state, labelled with the rule's name and its guard (the rule's
        ``doc``), drawn from the states the rule applies in. A rule that applies in any state is drawn
        once, from a single ``any state`` node (never from every state: its behaviour does not depend
        on the state it starts from), or not at all without ``any_state``."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        anywhere = any_state and any(rule.source == ANY for rule in self.rules)
        if anywhere:
            lines.append(f'    state "any state" as {_ANY_NODE}')
        for rule in self.rules:
            if rule.source == ANY and not anywhere:
                continue
            sources = [_ANY_NODE] if rule.source == ANY else _as_list(rule.source)
            label = rule.name + (f" - {_label(rule.doc)}" if rule.doc else "")
            for src in sources:
                dst = src if rule.dest == SAME else rule.dest  # any state to itself: it stays where it is
                lines.append(f"    {src} --> {dst}: {label}")
        return "\n".join(lines) + "\n"


#: The diagram node standing for "any state".
_ANY_NODE = "AnyState"


def _label(text: str) -> str:
    """``text`` as a mermaid edge label: one line, without the characters mermaid gives a meaning."""
    return " ".join(text.replace(":", " -").replace(";", ",").replace("#", "no.").split())


def _as_list(source: str | Sequence[str]) -> list[str]:
    return [source] if isinstance(source, str) else list(source)
