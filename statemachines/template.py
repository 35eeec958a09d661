"""AIMServiceTemplate / AIMClusterServiceTemplate: discovery, GPU availability, the serving runtime.

States are the API's ``AIMTemplateStatusEnum``: Pending, Progressing, Available, Degraded, Failed.
Each reconcile the controller observes (from the caches, plus the log of a succeeded discovery pod)
and this machine picks the first matching rule. Reasons, messages and events are the original
operator's (``docs/original-behaviour.md``) with these fixes (numbered as there):

* conditions are recomputed every time (no stale ``Failure=True`` after recovery);
* a missing GPU model is Degraded/``GPUNotAvailable`` and recovers when a node offers it (#4); when
  only cordoned nodes offer it, a template already discovered stays Available with
  ``GPUCapacity=False``/``NodesCordoned`` (no new capacity, but the services on it are kept);
* failed discovery is retried with exponential backoff, 1 min doubling to 1 h, reset when the spec
  (generation) or the image URI changes (#5); deferred discovery (the 10-Job cap) is requeued;
* discovery re-runs when the image URI changes (the discovery Job name hashes it);
* a missing runtime config is Degraded/``RuntimeConfigMissing`` for both kinds (Q23);
* one event per transition (#14);
* a discovery pod stuck pulling its image past the pull deadline
  (:attr:`TemplateObservation.pull_deadline_seconds`) counts as a failed attempt: the Job is deleted
  (freeing its discovery slot), the pull error stays on ``Failure``, the template stays Degraded and
  retries with the backoff;
* a discovery Job built from other inputs than today's (env, pull secrets, service account: see
  :attr:`TemplateObservation.job_outdated`) is deleted and created again, whatever its outcome;
* a Job that completed before its pod shows ``Succeeded`` in the cache waits for the pod (no failure);
* an Available template rediscovers when the discovery inputs fingerprint (the dry run's env) changes.

Durable memory (``docs/architecture.md``): what the last successful discovery ran with (image URI,
fingerprint of the discovery inputs) and the :class:`DiscoveryRecord` of consecutive failed attempts
are the decision's ``memory`` (:data:`MEMORY_DISCOVERED`, :data:`MEMORY_FAILURES`), which the
controller keeps in the template's ``aim.silogen.ai/discovery-state`` annotation: the API status has
no field for an attempt counter, and a condition's ``lastTransitionTime`` changes only on a flip. The
record resets when the image URI, the generation or the pull inputs (pull secrets, service account)
change. The ``Discovered`` messages repeat this for people (``[failures: 2, image: "…", …, next
attempt after: …]``); no decision reads a message, except once, for a template an older operator
wrote (:func:`legacy_memory`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aimctl.api.enums import AIMTemplateStatusEnum
from statemachines.effects import ApplyChild, DeleteChild, Effect, EmitEvent, RequeueAfter
from statemachines.engine import ANY, KindMachine, Outcome, Rule, always

PENDING = AIMTemplateStatusEnum.PENDING.value
PROGRESSING = AIMTemplateStatusEnum.PROGRESSING.value
AVAILABLE = AIMTemplateStatusEnum.AVAILABLE.value
DEGRADED = AIMTemplateStatusEnum.DEGRADED.value
FAILED = AIMTemplateStatusEnum.FAILED.value
STATES = (PENDING, PROGRESSING, AVAILABLE, DEGRADED, FAILED)

#: Child roles the controller knows how to build or delete.
DISCOVERY_JOB = "discovery-job"
STALE_DISCOVERY_JOBS = "stale-discovery-jobs"
SERVING_RUNTIME = "serving-runtime"
TEMPLATE_CACHE = "template-cache"

#: At most this many discovery Jobs run at once, cluster-wide.
MAX_CONCURRENT_DISCOVERY_JOBS = 10
#: A template waiting for a discovery slot looks again after this many seconds.
DEFER_SECONDS = 5.0
#: Discovery retry backoff: first retry after this, doubling per failure, capped at the maximum.
BACKOFF_BASE_SECONDS = 60.0
BACKOFF_MAX_SECONDS = 3600.0
#: The ``Discovered=False`` message while a discovery given up in image pull waits to retry.
PULL_GIVEN_UP = "Discovery cannot start: image pull given up"

_RECORD = re.compile(
    r'\[failures: (?P<n>\d+), image: "(?P<image>[^"]*)", generation: (?P<gen>\d+),'
    r"(?: inputs: (?P<inputs>[0-9a-f]*),)? last: (?P<last>[^,\]]+)"
)
_DISCOVERED_FROM = re.compile(r'from image "(?P<image>[^"]*)"')
_DISCOVERED_INPUTS = re.compile(r"\[inputs: (?P<inputs>[0-9a-f]*)\]")


def parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def backoff_seconds(failures: int, base: float = BACKOFF_BASE_SECONDS) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure: ``base`` doubling per failure,
    capped at an hour (with the default base: 60, 120, 240 … 3600)."""
    if failures <= 0:
        return 0.0
    return float(min(base * 2 ** min(failures - 1, 32), BACKOFF_MAX_SECONDS))


@dataclass(frozen=True)
class DiscoveryRecord:
    """Consecutive failed discovery attempts for one image URI and spec generation."""

    failures: int = 0
    image: str = ""
    generation: int = 0
    last_failure: str = ""
    inputs: str = ""
    #: The first retry's delay (the operator's setting, not part of the recorded message).
    backoff_base: float = field(default=BACKOFF_BASE_SECONDS, compare=False)

    @property
    def retry_at(self) -> dt.datetime | None:
        last = parse_time(self.last_failure)
        return last + dt.timedelta(seconds=backoff_seconds(self.failures, self.backoff_base)) if last else None

    def note(self) -> str:
        """The suffix carried in the ``Discovered`` message (empty without failures)."""
        if self.failures <= 0:
            return ""
        retry = self.retry_at
        after = f", next attempt after: {format_time(retry)}" if retry else ""
        inputs = f"inputs: {self.inputs}, " if self.inputs else ""
        return (
            f' [failures: {self.failures}, image: "{self.image}", generation: {self.generation}, '
            f"{inputs}last: {self.last_failure}{after}]"
        )

    def failed_again(self, image: str, generation: int, when: str, inputs: str = "") -> DiscoveryRecord:
        return DiscoveryRecord(self.failures + 1, image, generation, when, inputs, self.backoff_base)

    def to_memory(self) -> dict[str, Any]:
        """The record as the template's memory keeps it (see :data:`MEMORY_FAILURES`)."""
        out: dict[str, Any] = {"count": self.failures, "image": self.image, "generation": self.generation}
        out["last"] = self.last_failure
        if self.inputs:
            out["inputs"] = self.inputs
        return out

    @classmethod
    def from_memory(
        cls,
        memory: Mapping[str, Any],
        image: str,
        generation: int,
        inputs: str = "",
        backoff_base: float = BACKOFF_BASE_SECONDS,
    ) -> DiscoveryRecord:
        """The record in the template's memory, or an empty one when there is none or it belongs to
        another image URI, spec generation or pull inputs (the backoff resets)."""
        m = memory.get(MEMORY_FAILURES)
        if not isinstance(m, Mapping):
            return cls(backoff_base=backoff_base)
        try:
            count, gen = int(m.get("count") or 0), int(m.get("generation") or 0)
        except (TypeError, ValueError):
            return cls(backoff_base=backoff_base)
        if m.get("image") != image or gen != generation:
            return cls(backoff_base=backoff_base)
        recorded = str(m.get("inputs") or "")
        if recorded and inputs and recorded != inputs:
            return cls(backoff_base=backoff_base)
        return cls(count, image, gen, str(m.get("last") or ""), recorded or inputs, backoff_base)

    @classmethod
    def from_conditions(
        cls,
        conditions: Sequence[Mapping[str, Any]] | None,
        image: str,
        generation: int,
        inputs: str = "",
        backoff_base: float = BACKOFF_BASE_SECONDS,
    ) -> DiscoveryRecord:
        """The record in a status's ``Discovered`` message, or an empty one when there is none or it
        belongs to another image URI, spec generation or pull inputs (the backoff resets). A record
        written without pull inputs (an older operator) matches any."""
        for c in conditions or []:
            if c.get("type") != "Discovered" or c.get("status") != "False":
                continue
            m = _RECORD.search(str(c.get("message") or ""))
            if not m or m["image"] != image or int(m["gen"]) != generation:
                continue
            recorded = m["inputs"] or ""
            if recorded and inputs and recorded != inputs:
                continue
            return cls(int(m["n"]), m["image"], int(m["gen"]), m["last"].strip(), recorded or inputs, backoff_base)
        return cls(backoff_base=backoff_base)


#: The template's memory (``Decision.memory``, kept in the :data:`aimctl.labels.DISCOVERY_STATE`
#: annotation): ``discovered`` — ``{"image", "inputs", "profileId"}`` of the last successful
#: discovery, while it is valid (``profileId``: the discovered profile's id, which ``status.profile``
#: has no field for; it reaches the runtime as ``AIM_PROFILE_ID``); ``failures`` — the
#: :class:`DiscoveryRecord` of consecutive failed attempts.
MEMORY_DISCOVERED = "discovered"
MEMORY_FAILURES = "failures"


def profile_id_from_memory(memory: Mapping[str, Any]) -> str:
    """The discovered profile's id the memory keeps (``""`` when none)."""
    d = memory.get(MEMORY_DISCOVERED)
    return str(d.get("profileId") or "") if isinstance(d, Mapping) else ""


def discovered_from_memory(memory: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(image, inputs)`` the last successful discovery ran with (``None`` when unknown)."""
    d = memory.get(MEMORY_DISCOVERED)
    if not isinstance(d, Mapping) or not d.get("image"):
        return None, None
    return str(d["image"]), (str(d["inputs"]) if d.get("inputs") else None)


def legacy_memory(conditions: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """The memory an older operator wrote into the ``Discovered`` message (read only for a template
    that has no memory annotation yet, so an upgrade neither rediscovers nor forgets a backoff)."""
    memory: dict[str, Any] = {}
    image = discovered_image(conditions)
    if image is not None:
        inputs = discovered_inputs(conditions)
        memory[MEMORY_DISCOVERED] = {"image": image, **({"inputs": inputs} if inputs else {})}
    for c in conditions or []:
        if c.get("type") == "Discovered" and c.get("status") == "False":
            m = _RECORD.search(str(c.get("message") or ""))
            if m:
                record = DiscoveryRecord(int(m["n"]), m["image"], int(m["gen"]), m["last"].strip(), m["inputs"] or "")
                memory[MEMORY_FAILURES] = record.to_memory()
    return memory


def discovered_image(conditions: Sequence[Mapping[str, Any]] | None) -> str | None:
    """The image URI the last successful discovery ran against (from ``Discovered=True``)."""
    for c in conditions or []:
        if c.get("type") == "Discovered" and c.get("status") == "True":
            m = _DISCOVERED_FROM.search(str(c.get("message") or ""))
            return m["image"] if m else None
    return None


def discovered_inputs(conditions: Sequence[Mapping[str, Any]] | None) -> str | None:
    """The discovery inputs fingerprint the last successful discovery ran with (``None`` when the
    ``Discovered=True`` message carries none: written by an older operator, taken as unchanged)."""
    for c in conditions or []:
        if c.get("type") == "Discovered" and c.get("status") == "True":
            m = _DISCOVERED_INPUTS.search(str(c.get("message") or ""))
            return m["inputs"] if m else None
    return None


def condition_of(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> tuple[str, str] | None:
    """``(reason, message)`` of a True condition of ``type_``."""
    for c in conditions or []:
        if c.get("type") == type_ and c.get("status") == "True":
            return str(c.get("reason") or ""), str(c.get("message") or "")
    return None


@dataclass(frozen=True)
class JobView:
    """The discovery Job for the current image, as the cache shows it."""

    name: str
    outcome: Literal["running", "succeeded", "failed"]
    finished_at: str = ""
    message: str = ""
    #: The Job's ``creationTimestamp`` (the pull deadline counts from it).
    started_at: str = ""


@dataclass(frozen=True)
class TemplateObservation:
    """Everything one template decision needs (plain data, built by the controller from caches)."""

    name: str
    generation: int
    now: dt.datetime
    cluster_scoped: bool = False
    image_name: str = ""
    image_uri: str | None = None
    image_missing_message: str = ""
    runtime_config_missing: str | None = None
    gpu_model: str | None = None
    gpu_count: int = 0
    gpu_available: bool = True
    #: Only cordoned nodes offer the GPU model and count: no new capacity, but a discovered template
    #: stays Available (its running services are kept) and says so in ``GPUCapacity=False``.
    gpu_cordoned: bool = False
    gpu_message: str = ""
    job_name: str = ""
    job: JobView | None = None
    #: The cached Job was built from other discovery inputs (env, pull secrets, service account)
    #: than the template and runtime config ask for today: it is replaced (a Job spec is immutable).
    job_outdated: bool = False
    pull_stuck: str | None = None
    #: A discovery pod stuck in image pull this long after its Job was created is given up on.
    pull_deadline_seconds: float = 300.0
    #: The Job completed but the cache does not show its pod Succeeded yet: wait for it.
    awaiting_pod: bool = False
    stale_jobs: tuple[str, ...] = ()
    slot_free: bool = True
    result_profile: Mapping[str, Any] | None = None
    result_model_sources: tuple[Mapping[str, Any], ...] = ()
    #: The id of the profile the succeeded Job found (``""``: none), and the one the memory keeps.
    result_profile_id: str = ""
    discovered_profile_id: str = ""
    result_error: str | None = None
    discovered_image: str | None = None
    #: Fingerprint of the inputs that shape the dry run's output (its env); see ``discovered_inputs``.
    discovery_inputs: str = ""
    discovered_inputs: str | None = None
    #: Fingerprint of the inputs that only decide whether the image can be pulled (pull secrets,
    #: service account): a change resets the failure backoff, and never forces rediscovery.
    pull_inputs: str = ""
    has_results: bool = False
    record: DiscoveryRecord = field(default_factory=DiscoveryRecord)
    previous_failure: tuple[str, str] | None = None
    caching_enabled: bool = False
    template_cache_owned: bool = False

    @property
    def fresh(self) -> bool:
        """Discovery already succeeded for this image URI and these discovery inputs."""
        inputs_same = self.discovered_inputs is None or self.discovered_inputs == self.discovery_inputs
        return self.has_results and self.discovered_image == self.image_uri and inputs_same

    @property
    def job_failure_recorded(self) -> bool:
        """The current Job's failure is already counted in the record: a finished Job's by its finish
        time, an unfinished one's (given up on at the pull deadline) by a failure recorded after it
        was created (a new Job is only created after the backoff of the last failure)."""
        if self.job is None or self.record.failures <= 0:
            return False
        if self.job.finished_at:
            return self.job.finished_at == self.record.last_failure
        return bool(self.job.started_at) and self.record.last_failure >= self.job.started_at

    @property
    def pull_deadline_in(self) -> float | None:
        """Seconds until the pull deadline of the current Job (negative once past; ``None`` unknown)."""
        started = parse_time(self.job.started_at) if self.job is not None else None
        if started is None:
            return None
        return (started + dt.timedelta(seconds=self.pull_deadline_seconds) - self.now).total_seconds()

    @property
    def pull_overdue(self) -> bool:
        left = self.pull_deadline_in
        return left is not None and left <= 0

    @property
    def backing_off(self) -> bool:
        retry = self.record.retry_at
        return self.record.failures > 0 and retry is not None and self.now < retry

    @property
    def retry_in(self) -> float:
        retry = self.record.retry_at
        return max(1.0, (retry - self.now).total_seconds()) if retry else 1.0


# -- condition helpers ----------------------------------------------------------------------------------


def _housekeeping(obs: TemplateObservation, out: Outcome) -> None:
    if obs.stale_jobs:
        out.effect(DeleteChild(STALE_DISCOVERY_JOBS))


def _keep_discovered(obs: TemplateObservation, out: Outcome) -> None:
    """While blocked (Degraded), a still-valid discovery keeps its ``Discovered=True`` condition."""
    if obs.discovered_image is not None and obs.discovered_image == obs.image_uri and obs.has_results:
        _discovered(out, obs.discovered_image, obs.discovered_inputs, obs.discovered_profile_id)


def _discovered(out: Outcome, image: str, inputs: str | None, profile_id: str = "") -> None:
    """``Discovered=True``, and the memory of what discovery ran with and found (the message is for people)."""
    out.condition("Discovered", True, "Discovered", _discovered_message(image, inputs))
    memory: dict[str, Any] = {"image": image}
    if inputs:
        memory["inputs"] = inputs
    if profile_id:
        memory["profileId"] = profile_id
    out.memory[MEMORY_DISCOVERED] = memory


def _discovered_message(image: str, inputs: str | None = None) -> str:
    suffix = f" [inputs: {inputs}]" if inputs else ""
    return f'Model sources discovered from image "{image}"{suffix}'


def _not_discovered(out: Outcome, obs: TemplateObservation, reason: str, message: str, record: DiscoveryRecord) -> None:
    """``Discovered=False``, and the memory of the failed attempts (the message repeats them for people)."""
    out.condition("Discovered", False, reason, message + record.note())
    if record.failures > 0:
        out.memory[MEMORY_FAILURES] = record.to_memory()


def _blocked(obs: TemplateObservation, out: Outcome, reason: str, message: str, ready_message: str) -> None:
    out.condition("Failure", True, reason, message)
    out.condition("Ready", False, reason, ready_message)
    _keep_discovered(obs, out)
    out.reason, out.message = reason, message
    out.effect(EmitEvent("Warning", reason, message))


# -- actions --------------------------------------------------------------------------------------------


def _runtime_config_missing(obs: TemplateObservation, out: Outcome) -> None:
    message = obs.runtime_config_missing or ""
    _blocked(obs, out, "RuntimeConfigMissing", message, "Cannot proceed without runtime config")


def _image_missing(obs: TemplateObservation, out: Outcome) -> None:
    _blocked(obs, out, "ImageNotFound", obs.image_missing_message, "Cannot proceed without image")


def _gpu_unavailable(obs: TemplateObservation, out: Outcome) -> None:
    _blocked(obs, out, "GPUNotAvailable", obs.gpu_message, "No node offers the GPU model this template needs")
    _housekeeping(obs, out)


def _available(obs: TemplateObservation, out: Outcome, image: str, inputs: str | None, profile_id: str) -> None:
    _discovered(out, image, inputs, profile_id)
    out.condition("Progressing", False, "Available", "Discovery complete")
    out.condition("Ready", True, "Available", "Template is ready")
    out.effect(ApplyChild(SERVING_RUNTIME))
    if obs.caching_enabled:
        out.effect(ApplyChild(TEMPLATE_CACHE))
    elif obs.template_cache_owned:
        out.effect(DeleteChild(TEMPLATE_CACHE))
    _housekeeping(obs, out)
    out.reason, out.message = "Available", "Template is ready"


def _still_available(obs: TemplateObservation, out: Outcome) -> None:
    _available(obs, out, obs.image_uri or "", obs.discovered_inputs, obs.discovered_profile_id)
    if not obs.gpu_available and obs.gpu_cordoned:
        out.condition("GPUCapacity", False, "NodesCordoned", obs.gpu_message)


def _gpu_blocks(obs: TemplateObservation) -> bool:
    """No node offers the GPU; cordoned nodes only block a template not yet discovered."""
    return not obs.gpu_available and not (obs.gpu_cordoned and obs.fresh)


def _discovery_succeeded(obs: TemplateObservation, out: Outcome) -> None:
    _available(obs, out, obs.image_uri or "", obs.discovery_inputs or None, obs.result_profile_id)
    out.status["profile"] = dict(obs.result_profile or {})
    if obs.result_model_sources:
        out.status["modelSources"] = [dict(m) for m in obs.result_model_sources]
    out.effect(EmitEvent("Normal", "DiscoverySucceeded", f"Discovery job {obs.job_name} succeeded"))


def _failed(obs: TemplateObservation, out: Outcome, reason: str, message: str, ready_reason: str, event: str) -> None:
    assert obs.job is not None
    record = obs.record.failed_again(obs.image_uri or "", obs.generation, obs.job.finished_at, obs.pull_inputs)
    out.condition("Failure", True, reason, message)
    _not_discovered(out, obs, "DiscoveryFailed", "Discovery failed", record)
    out.condition("Ready", False, ready_reason, "Template is not ready due to errors")
    out.effect(EmitEvent("Warning", event, message))
    retry = record.retry_at
    out.effect(RequeueAfter(max(1.0, (retry - obs.now).total_seconds()) if retry else record.backoff_base))
    _housekeeping(obs, out)
    out.reason, out.message = reason, message


def _output_invalid(obs: TemplateObservation, out: Outcome) -> None:
    message = f"Discovery output could not be parsed: {obs.result_error}"
    _failed(obs, out, "DiscoveryParseFailed", message, "DiscoveryParseFailed", "DiscoveryParseFailed")


def _job_failed(obs: TemplateObservation, out: Outcome) -> None:
    assert obs.job is not None
    detail = f": {obs.job.message}" if obs.job.message else ""
    _failed(obs, out, "JobFailed", f"Discovery job failed{detail}", "Failed", "DiscoveryFailed")


def _pull_stuck(obs: TemplateObservation, out: Outcome) -> None:
    message = f"Discovery job pod stuck pulling image: {obs.pull_stuck}"
    out.condition("Failure", True, "ImagePullBackOff", message)
    out.condition("Progressing", False, "ImagePullBackOff", message)
    _not_discovered(out, obs, "ImagePullBackOff", "Discovery cannot start", obs.record)
    out.condition("Ready", False, "ImagePullBackOff", "Template is not ready")
    out.effect(EmitEvent("Warning", "ImagePullFailed", message))
    left = obs.pull_deadline_in
    if left is not None:
        out.effect(RequeueAfter(max(1.0, left)))
    _housekeeping(obs, out)
    out.reason, out.message = "ImagePullBackOff", message


def _pull_given_up(obs: TemplateObservation, out: Outcome) -> None:
    """Past the pull deadline: count a failure (once), delete the Job to free its slot, keep the pull
    error on ``Failure`` and wait for the backoff."""
    assert obs.job is not None
    record = obs.record
    if obs.job_failure_recorded:
        reason, message = obs.previous_failure or ("ImagePullBackOff", "Discovery job pod stuck pulling image")
    else:
        record = record.failed_again(obs.image_uri or "", obs.generation, format_time(obs.now), obs.pull_inputs)
        reason, message = "ImagePullBackOff", f"Discovery job pod stuck pulling image: {obs.pull_stuck}"
    out.condition("Failure", True, reason, message)
    out.condition("Progressing", False, reason, message)
    _not_discovered(out, obs, reason, PULL_GIVEN_UP, record)
    out.condition("Ready", False, reason, "Template is not ready")
    out.effect(DeleteChild(DISCOVERY_JOB))
    out.effect(EmitEvent("Warning", "ImagePullFailed", message))
    retry = record.retry_at
    out.effect(RequeueAfter(max(1.0, (retry - obs.now).total_seconds()) if retry else record.backoff_base))
    _housekeeping(obs, out)
    out.reason, out.message = reason, message


def _inputs_changed(obs: TemplateObservation) -> bool:
    """An earlier discovery of this image ran with another env."""
    earlier = obs.discovered_inputs
    return obs.has_results and obs.discovered_image == obs.image_uri and earlier not in (None, obs.discovery_inputs)


def _replace_job(obs: TemplateObservation, out: Outcome) -> None:
    if _inputs_changed(obs):
        reason, message = "DiscoveryInputsChanged", "The template's env changed: re-running discovery"
    else:
        reason = "DiscoveryRestarting"
        message = (
            f"Discovery job {obs.job_name} was built from other env, pull secrets or service account: replacing it"
        )
    out.condition("Progressing", True, reason, message)
    _not_discovered(out, obs, "JobPending", "Discovery will restart", obs.record)
    out.condition("Ready", False, "Reconciling", "Template is not ready")
    out.effect(DeleteChild(DISCOVERY_JOB), EmitEvent("Normal", reason, message))
    out.effect(RequeueAfter(1.0))
    _housekeeping(obs, out)
    out.reason, out.message = reason, message


def _awaiting_pod(obs: TemplateObservation, out: Outcome) -> None:
    message = f"Discovery job {obs.job_name} completed; waiting for its pod to show Succeeded"
    _discovery_running(obs, out, message, RequeueAfter(1.0))
    out.reason, out.message = "DiscoveryRunning", message


def _job_running(obs: TemplateObservation, out: Outcome) -> None:
    message = f"Discovery job {obs.job_name} is running"
    _discovery_running(obs, out, message, EmitEvent("Normal", "DiscoveryStarted", message))
    out.reason, out.message = "DiscoveryStarted", message


def _discovery_running(obs: TemplateObservation, out: Outcome, message: str, effect: Effect) -> None:
    """The conditions while the discovery Job runs (or its pod is yet to show Succeeded), ``effect``
    and the housekeeping."""
    out.condition("Progressing", True, "DiscoveryRunning", message)
    _not_discovered(out, obs, "JobPending", "Discovery in progress", obs.record)
    out.condition("Ready", False, "Reconciling", "Template is not ready")
    out.effect(effect)
    _housekeeping(obs, out)


def _backing_off(obs: TemplateObservation, out: Outcome) -> None:
    reason, message = obs.previous_failure or ("DiscoveryFailed", "Discovery failed")
    out.condition("Failure", True, reason, message)
    if reason == "ImagePullBackOff":  # the same conditions as when the pull was given up
        out.condition("Progressing", False, reason, message)
        _not_discovered(out, obs, reason, PULL_GIVEN_UP, obs.record)
        out.condition("Ready", False, reason, "Template is not ready")
    else:
        _not_discovered(out, obs, "DiscoveryFailed", "Discovery failed", obs.record)
        ready_reason = "Failed" if reason == "JobFailed" else reason
        out.condition("Ready", False, ready_reason, "Template is not ready due to errors")
    out.effect(RequeueAfter(obs.retry_in))
    _housekeeping(obs, out)
    out.reason, out.message = reason, message


def _clear_finished_job(obs: TemplateObservation, out: Outcome) -> None:
    message = f"Removing discovery job {obs.job_name} before retrying"
    out.condition("Progressing", True, "Retrying", message)
    _not_discovered(out, obs, "DiscoveryFailed", "Discovery will be retried", obs.record)
    out.condition("Ready", False, "Reconciling", "Template is not ready")
    out.effect(DeleteChild(DISCOVERY_JOB), EmitEvent("Normal", "DiscoveryRetrying", message))
    _housekeeping(obs, out)
    out.reason, out.message = "DiscoveryRetrying", message


def _deferred(obs: TemplateObservation, out: Outcome) -> None:
    message = f"Waiting for a discovery slot: at most {MAX_CONCURRENT_DISCOVERY_JOBS} discovery jobs run at once"
    out.condition("Progressing", True, "DiscoveryDeferred", message)
    _not_discovered(out, obs, "DiscoveryDeferred", "Discovery has not started yet", obs.record)
    out.condition("Ready", False, "Reconciling", "Template is not ready")
    out.effect(RequeueAfter(DEFER_SECONDS))
    _housekeeping(obs, out)
    out.reason, out.message = "DiscoveryDeferred", message


def _start(obs: TemplateObservation, out: Outcome) -> None:
    out.condition("Progressing", True, "Reconciling", "Initiating discovery")
    _not_discovered(out, obs, "JobPending", "Discovery job created", obs.record)
    out.condition("Ready", False, "Reconciling", "Template is not ready")
    out.effect(ApplyChild(DISCOVERY_JOB))
    _housekeeping(obs, out)
    out.reason, out.message = "DiscoveryJobCreated", f"Created discovery job {obs.job_name}"


def _rediscover(obs: TemplateObservation, out: Outcome) -> None:
    _start(obs, out)
    if obs.discovered_image != obs.image_uri:
        reason, message = "ImageChanged", f'Image URI changed to "{obs.image_uri}": re-running discovery'
    else:
        reason, message = "DiscoveryInputsChanged", "The template's env changed: re-running discovery"
    out.effect(EmitEvent("Normal", reason, message))
    out.reason, out.message = reason, message


# -- guards ---------------------------------------------------------------------------------------------


def _job(obs: TemplateObservation, outcome: str) -> bool:
    return obs.job is not None and obs.job.outcome == outcome


def _pull_backoff(obs: TemplateObservation) -> bool:
    return obs.backing_off and (obs.previous_failure or ("", ""))[0] == "ImagePullBackOff"


MACHINE: KindMachine[TemplateObservation] = KindMachine(
    "AIMServiceTemplate",
    STATES,
    PENDING,
    [
        Rule("runtime_config_missing", ANY, DEGRADED, lambda o: o.runtime_config_missing is not None,
             _runtime_config_missing, doc="A non-default runtime config exists at neither scope."),
        Rule("image_missing", ANY, DEGRADED, lambda o: o.image_uri is None, _image_missing,
             doc="No AIMImage/AIMClusterImage with the template's aimImageName."),
        Rule("gpu_unavailable", ANY, DEGRADED, _gpu_blocks, _gpu_unavailable,
             doc="No schedulable node offers the GPU model and count (only cordoned nodes: once discovered, "
                 "the template stays Available and reports GPUCapacity=False)."),
        Rule("still_available", ANY, AVAILABLE, lambda o: o.fresh, _still_available,
             doc="Discovery already succeeded for this image URI and env; keep the runtime applied."),
        Rule("replace_outdated_job", ANY, PENDING, lambda o: o.job is not None and o.job_outdated, _replace_job,
             doc="The Job has other env, pull secrets or service account than today's: replace it."),
        Rule("pull_given_up", ANY, DEGRADED,
             lambda o: _job(o, "running") and (o.job_failure_recorded or (o.pull_stuck is not None and o.pull_overdue)),
             _pull_given_up, doc="Stuck in image pull past the deadline: count a failure, free the slot."),
        Rule("pull_stuck", ANY, DEGRADED, lambda o: _job(o, "running") and o.pull_stuck is not None, _pull_stuck,
             doc="The discovery pod cannot pull its image (until the pull deadline)."),
        Rule("discovery_succeeded", ANY, AVAILABLE,
             lambda o: _job(o, "succeeded") and o.result_profile is not None, _discovery_succeeded,
             doc="The Job succeeded and its log holds a result."),
        Rule("awaiting_discovery_pod", ANY, PROGRESSING, lambda o: _job(o, "succeeded") and o.awaiting_pod,
             _awaiting_pod, doc="The Job completed before the cache shows its pod Succeeded: wait."),
        Rule("discovery_output_invalid", ANY, FAILED,
             lambda o: _job(o, "succeeded") and o.result_error is not None and not o.job_failure_recorded,
             _output_invalid, doc="The Job succeeded but its log holds no usable result."),
        Rule("discovery_job_failed", ANY, FAILED, lambda o: _job(o, "failed") and not o.job_failure_recorded,
             _job_failed, doc="The Job failed."),
        Rule("job_running", ANY, PROGRESSING, lambda o: _job(o, "running"), _job_running,
             doc="The discovery Job runs."),
        Rule("pull_backing_off", ANY, DEGRADED, _pull_backoff, _backing_off,
             doc="Wait before retrying discovery given up in image pull; the pull error stays."),
        Rule("backing_off", ANY, FAILED, lambda o: o.backing_off, _backing_off,
             doc="Wait before retrying failed discovery (60 s doubling to 1 h)."),
        Rule("clear_finished_job", ANY, PENDING, lambda o: o.job is not None, _clear_finished_job,
             doc="Backoff elapsed: delete the finished Job so a fresh one can run."),
        Rule("discovery_deferred", ANY, PENDING, lambda o: not o.slot_free, _deferred,
             doc="All discovery slots are taken; look again shortly."),
        Rule("rediscover", AVAILABLE, PENDING, always, _rediscover,
             doc="The image URI or the env changed since discovery: discover again."),
        Rule("start_discovery", ANY, PENDING, always, _start, doc="Create the discovery Job."),
    ],
)  # fmt: skip
