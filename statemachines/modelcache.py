"""AIMModelCache: a PVC filled once by a download Job.

States are the API's ``AIMModelCacheStatusEnum``: Pending → Progressing → Available | Failed.

What is kept from the original operator (``docs/original-behaviour.md``): the PVC
first, the Job only once the PVC is Bound or its class binds on first consumer (a WaitForFirstConsumer
PVC binds only when the Job's pod is scheduled), and the four conditions with their reasons —
``StorageReady`` (PVCPending, PVCProvisioning, PVCBound, PVCLost, or the phase), ``Ready`` (Warm,
WaitingForPVC, Downloading), ``Progressing`` (WaitingForPVC, Downloading, RetryBackoff) and
``Failure`` (NoFailure, DownloadFailed, PVCLost).

What is fixed (``docs/original-behaviour.md``, fix 6):

* **Available is sticky.** Once a download succeeded into a Bound PVC the cache stays Available: a
  missing Job (deleted by its 600 s TTL) means nothing, and no second download ever starts.
* **A lost volume is reported, never silently re-filled.** PVC phase ``Lost`` → Failed with
  ``StorageReady=False/PVCLost`` and ``Failure=True/PVCLost``; a PVC deleted after the cache was
  Available (or Failed) → Failed with ``StorageReady=False/PVCNotFound`` and ``Failure=True/PVCLost``.
  Failed rather than a softer state because the API has no Degraded for caches and a service
  mounting this cache would not find its model: it needs a person.
* **A success counts only for the volume it filled.** The Job is annotated with the UID of the PVC
  it writes to (``aim.silogen.ai/pvc-uid``); a succeeded Job whose PVC was replaced is discarded.
* **A failed download is final until a person acts.** The Job's own ``backoffLimit`` (2) is the only
  automatic retry; its Failed condition → cache Failed with ``Failure=True/DownloadFailed``. The TTL
  deleting the failed Job does not start another one (the original re-downloaded every ten minutes,
  forever).

How a person retries (the ``Failure`` message says so): **edit the spec** (fix ``spec.env``
credentials, ``spec.modelDownloadImage``, …): a generation that differs from the one the failure was
recorded at (``status.observedGeneration``), or a failed Job built from an older generation
(annotation ``aim.silogen.ai/cache-generation``), starts one new attempt — the stale Job is deleted,
the PVC re-created if it is gone, and a new Job created. Or delete the AIMModelCache (an
AIMTemplateCache re-creates the caches it owns).

The observation is plain data built by the controller from the caches; everything here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from aimctl.api.enums import AIMModelCacheStatusEnum as S
from statemachines.effects import ApplyChild, DeleteChild
from statemachines.engine import ANY, SAME, KindMachine, Outcome, Rule, always

PVC = "pvc"
JOB = "download-job"

PENDING, PROGRESSING, AVAILABLE, FAILED = S.PENDING.value, S.PROGRESSING.value, S.AVAILABLE.value, S.FAILED.value

RETRY_HINT = (
    "Not retried automatically: fix the cause, then edit the AIMModelCache spec (e.g. spec.env or "
    "spec.modelDownloadImage) to start a new download, or delete the AIMModelCache "
    "(an AIMTemplateCache re-creates the caches it owns)."
)


@dataclass(frozen=True)
class ModelCacheObservation:
    """What one reconcile of an AIMModelCache sees (plain data; built from the informer caches)."""

    pvc_name: str
    job_name: str
    generation: int = 1
    observed_generation: int = 0
    """``status.observedGeneration``: the generation the current status was computed for."""
    # -- the PVC ----------------------------------------------------------------------------------
    pvc_found: bool = False
    pvc_uid: str = ""
    pvc_phase: str = ""
    pvc_deleting: bool = False
    storage_class: str = ""
    """The class the PVC uses (its ``spec.storageClassName``), else the one it will be created with."""
    storage_class_missing: bool = False
    """``storage_class`` names a StorageClass that does not exist (the PVC cannot bind)."""
    wait_for_first_consumer: bool = False
    # -- the Job ----------------------------------------------------------------------------------
    job_found: bool = False
    job_generation: int | None = None
    job_pvc_uid: str | None = None
    """The UID of the PVC the Job was created to fill (annotation ``aim.silogen.ai/pvc-uid``)."""
    job_active: bool = False
    job_succeeded: bool = False
    job_failed: bool = False
    job_failed_pods: int = 0
    job_failure: str = ""
    """``reason: message`` of the Job's Failed condition."""
    job_deleting: bool = False
    # -- what the status said before this reconcile -------------------------------------------------
    previous_failure_reason: str = ""
    previous_failure_message: str = ""

    # -- derived ----------------------------------------------------------------------------------
    @property
    def pvc_present(self) -> bool:
        return self.pvc_found and not self.pvc_deleting

    @property
    def pvc_bound(self) -> bool:
        return self.pvc_present and self.pvc_phase == "Bound"

    @property
    def pvc_lost(self) -> bool:
        return self.pvc_found and self.pvc_phase == "Lost"

    @property
    def can_create_job(self) -> bool:
        """The original operator's rule: Bound, or Pending in a WaitForFirstConsumer class."""
        return self.pvc_bound or (self.pvc_present and self.pvc_phase == "Pending" and self.wait_for_first_consumer)

    @property
    def job_present(self) -> bool:
        return self.job_found and not self.job_deleting

    @property
    def job_current(self) -> bool:
        """The Job was built from the current spec (a Job without the annotation counts as current:
        it was created by an older operator for this very object)."""
        return self.job_generation is None or self.job_generation == self.generation

    @property
    def job_filled_this_pvc(self) -> bool:
        """The Job's target is the PVC that exists now (a Job without the annotation counts)."""
        return self.job_pvc_uid is None or self.job_pvc_uid == self.pvc_uid

    @property
    def spec_changed(self) -> bool:
        """The spec changed since the status was last computed (the retry signal of a Failed cache)."""
        return self.generation != self.observed_generation


# -- conditions ----------------------------------------------------------------------------------


def _storage_ready(obs: ModelCacheObservation, out: Outcome) -> None:
    if not obs.pvc_present:
        if obs.pvc_deleting:
            out.condition("StorageReady", False, "PVCPending", f"PVC {obs.pvc_name} is being deleted")
        else:
            out.condition("StorageReady", False, "PVCPending", "PVC not created yet")
    elif obs.pvc_phase == "Bound":
        out.condition("StorageReady", True, "PVCBound", f"PVC {obs.pvc_name} is bound")
    elif obs.pvc_phase == "Lost":
        out.condition("StorageReady", False, "PVCLost", _lost_message(obs))
    elif obs.pvc_phase in ("Pending", ""):
        if obs.storage_class_missing:
            msg = f"PVC {obs.pvc_name} cannot bind: StorageClass {obs.storage_class!r} does not exist"
            out.condition("StorageReady", False, "StorageClassNotFound", msg)
        elif obs.wait_for_first_consumer:
            msg = f"PVC {obs.pvc_name} binds when the download pod is scheduled (WaitForFirstConsumer)"
            out.condition("StorageReady", False, "PVCProvisioning", msg)
        else:
            out.condition("StorageReady", False, "PVCProvisioning", f"PVC {obs.pvc_name} is being provisioned")
    else:
        out.condition("StorageReady", "Unknown", obs.pvc_phase, f"PVC {obs.pvc_name} is {obs.pvc_phase}")


def _lost_message(obs: ModelCacheObservation) -> str:
    return (
        f"PVC {obs.pvc_name} lost its PersistentVolume: the cached model is gone. "
        f"It is not downloaded again automatically; delete the PVC, then edit the AIMModelCache spec "
        f"(or delete the AIMModelCache) to download it again."
    )


def _deleted_message(obs: ModelCacheObservation) -> str:
    return (
        f"PVC {obs.pvc_name} was deleted: the cached model is gone. It is not downloaded again "
        f"automatically; edit the AIMModelCache spec (or delete the AIMModelCache) to download it again."
    )


def _no_failure(out: Outcome) -> None:
    out.condition("Failure", False, "NoFailure")


def _waiting_or_downloading(obs: ModelCacheObservation, out: Outcome, progressing_reason: str, msg: str) -> None:
    ready_reason = "Downloading" if obs.can_create_job or obs.job_present else "WaitingForPVC"
    out.condition("Ready", False, ready_reason, msg)
    out.condition("Progressing", True, progressing_reason, msg)
    _no_failure(out)


# -- guards --------------------------------------------------------------------------------------


def _current_download_failed(obs: ModelCacheObservation) -> bool:
    return obs.job_present and obs.job_failed and obs.job_current


def _stale_download_failed(obs: ModelCacheObservation) -> bool:
    return obs.job_present and obs.job_failed and not obs.job_current


def _downloaded(obs: ModelCacheObservation) -> bool:
    return obs.pvc_bound and obs.job_present and obs.job_succeeded and obs.job_filled_this_pvc


def _finished_into_replaced_volume(obs: ModelCacheObservation) -> bool:
    """A succeeded Job whose PVC is not the Bound one that exists now (deleted and re-created before
    the cache was recorded Available, or a retry racing a stale cache): that download went into a
    volume that no longer exists."""
    return obs.job_present and obs.job_succeeded and not _downloaded(obs)


def _retry_requested(obs: ModelCacheObservation) -> bool:
    if obs.pvc_lost:
        return False  # the lost volume must be deleted first; the pvc_lost rule reports it
    if obs.job_present and not obs.job_current:
        return True
    return obs.spec_changed


# -- actions -------------------------------------------------------------------------------------


def _pvc_lost(obs: ModelCacheObservation, out: Outcome) -> None:
    _storage_ready(obs, out)
    out.settle(False, "PVCLost", _lost_message(obs), failure=True)


def _pvc_deleted(obs: ModelCacheObservation, out: Outcome) -> None:
    msg = _deleted_message(obs)
    out.condition("StorageReady", False, "PVCNotFound", msg)
    out.settle(False, "PVCLost", msg, failure=True)


def _download_failed(obs: ModelCacheObservation, out: Outcome) -> None:
    _storage_ready(obs, out)
    detail = f" ({obs.job_failure})" if obs.job_failure else ""
    msg = f"Download Job {obs.job_name} failed{detail}. {RETRY_HINT}"
    out.settle(False, "DownloadFailed", msg, failure=True)


def _stay_failed(obs: ModelCacheObservation, out: Outcome) -> None:
    """Failed stays Failed; the conditions say why, from what is still observable, else from the
    previous status (the Job may be gone by TTL)."""
    if _current_download_failed(obs):
        _download_failed(obs, out)
    elif not obs.pvc_present:
        _pvc_deleted(obs, out)
    elif obs.previous_failure_reason and obs.previous_failure_message:
        _storage_ready(obs, out)
        msg = obs.previous_failure_message
        reason = obs.previous_failure_reason
        out.condition("Ready", False, reason, msg)
        out.condition("Progressing", False, reason, msg)
        out.condition("Failure", True, reason, msg)
    else:
        _download_failed(obs, out)


def _retry(obs: ModelCacheObservation, out: Outcome) -> None:
    """Start a new attempt: drop a stale Job, make sure the PVC exists, create the Job once the old
    one is gone and the PVC can take it."""
    out.effect(ApplyChild(PVC))
    if obs.job_found:
        out.effect(DeleteChild(JOB))
        msg = f"Retrying the download: deleting the previous Job {obs.job_name}"
    elif obs.can_create_job:
        out.effect(ApplyChild(JOB))
        msg = f"Retrying the download with Job {obs.job_name}"
    else:
        msg = f"Retrying the download: waiting for PVC {obs.pvc_name}"
    _storage_ready(obs, out)
    _waiting_or_downloading(obs, out, "Downloading" if obs.can_create_job else "WaitingForPVC", msg)
    out.reason, out.message = "Retrying", msg


def _available(obs: ModelCacheObservation, out: Outcome) -> None:
    _storage_ready(obs, out)
    out.condition("Ready", True, "Warm", f"Model downloaded into PVC {obs.pvc_name}")
    out.condition("Progressing", False, "Warm", "Download complete")
    _no_failure(out)
    out.reason, out.message = "Warm", f"Model downloaded into PVC {obs.pvc_name}"


def _restart_replaced(obs: ModelCacheObservation, out: Outcome) -> None:
    out.effect(DeleteChild(JOB), ApplyChild(PVC))
    msg = f"PVC {obs.pvc_name} was replaced before the download was recorded; downloading again"
    _storage_ready(obs, out)
    _waiting_or_downloading(obs, out, "Downloading", msg)


def _downloading(obs: ModelCacheObservation, out: Outcome) -> None:
    out.effect(ApplyChild(PVC))
    _storage_ready(obs, out)
    if obs.job_active or obs.job_failed_pods == 0:
        _waiting_or_downloading(obs, out, "Downloading", f"Job {obs.job_name} is downloading the model")
    else:
        msg = f"Job {obs.job_name} is retrying after {obs.job_failed_pods} failed attempt(s)"
        _waiting_or_downloading(obs, out, "RetryBackoff", msg)
    out.reason, out.message = "Downloading", f"Job {obs.job_name} is downloading the model"


def _start_download(obs: ModelCacheObservation, out: Outcome) -> None:
    out.effect(ApplyChild(PVC), ApplyChild(JOB))
    _storage_ready(obs, out)
    msg = f"Job {obs.job_name} is downloading the model"
    _waiting_or_downloading(obs, out, "Downloading", msg)
    out.reason, out.message = "Downloading", msg


def _wait_for_pvc(obs: ModelCacheObservation, out: Outcome) -> None:
    out.effect(ApplyChild(PVC))
    _storage_ready(obs, out)
    if obs.job_deleting:
        msg = f"Waiting for the previous Job {obs.job_name} to be deleted"
        _waiting_or_downloading(obs, out, "Downloading", msg)
    else:
        msg = f"Waiting for PVC {obs.pvc_name} to be bound"
        _waiting_or_downloading(obs, out, "WaitingForPVC", msg)
    out.reason, out.message = "WaitingForPVC", msg


_ACTIVE = [PENDING, PROGRESSING]

RULES: list[Rule[ModelCacheObservation]] = [
    Rule("pvc_lost", ANY, FAILED, lambda o: o.pvc_lost, _pvc_lost, "The PVC lost its volume: report, never refill."),
    Rule("retry", FAILED, PROGRESSING, _retry_requested, _retry, "A spec edit after a failure starts one new attempt."),
    Rule("stay_failed", FAILED, SAME, always, _stay_failed, "Failed is final until the spec changes."),
    Rule(
        "pvc_deleted",
        AVAILABLE,
        FAILED,
        lambda o: not o.pvc_present,
        _pvc_deleted,
        "The filled PVC was deleted: report, never refill.",
    ),
    Rule("stay_available", AVAILABLE, SAME, always, _available, "Available is sticky: the Job's TTL changes nothing."),
    Rule("download_failed", _ACTIVE, FAILED, _current_download_failed, _download_failed, "The Job gave up."),
    Rule("retry_stale", _ACTIVE, PROGRESSING, _stale_download_failed, _retry, "An older spec's Job failed: retry."),
    Rule("downloaded", _ACTIVE, AVAILABLE, _downloaded, _available, "The Job succeeded into the Bound PVC."),
    Rule(
        "volume_replaced",
        _ACTIVE,
        PROGRESSING,
        _finished_into_replaced_volume,
        _restart_replaced,
        "The Job filled a PVC that was deleted before Available was recorded.",
    ),
    Rule("downloading", _ACTIVE, PROGRESSING, lambda o: o.job_present, _downloading, "The Job is running."),
    Rule(
        "start_download",
        _ACTIVE,
        PROGRESSING,
        lambda o: o.can_create_job and not o.job_found,
        _start_download,
        "The PVC can take the Job: create it.",
    ),
    Rule("wait_for_pvc", _ACTIVE, PROGRESSING, always, _wait_for_pvc, "Create the PVC and wait for it."),
]

MACHINE: KindMachine[ModelCacheObservation] = KindMachine("AIMModelCache", [s.value for s in S], PENDING, RULES)
