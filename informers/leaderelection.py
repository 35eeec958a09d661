"""Leader election on a ``coordination.k8s.io/v1`` Lease, with release on graceful shutdown.

Why: two replicas must never reconcile at the same time. kubernetes_asyncio ships an elector, but it
is ``create_task``-based, cancels its leading task without awaiting it, has no release-on-cancel and
no request timeouts. This is client-go's algorithm
(``tools/leaderelection/leaderelection.go``) in structured concurrency.

Defaults (client-go / controller-runtime): lease 15 s, renew deadline 10 s, retry period 2 s.

Expected flow of :meth:`LeaderElector.run`:
    1. follow: try to acquire every retry period (x[1, 1.2] jitter) — and at once whenever the Lease
       changes, because a follower also watches it; a lease released by its holder
       (``holderIdentity`` empty) is taken immediately, so a graceful hand-off is as fast as one
       watch event plus one write;
    2. lead: call ``lead()`` while renewing every retry period; each renewal may retry until the
       renew deadline;
    3. if a renewal misses the deadline, the process *steps down*: ``lead()`` is cancelled and
       awaited (so nothing it started is still running), one line is logged, ``on_change(False)`` is
       called, and the elector goes back to 1 — the process is a follower again, campaigning, and
       calls ``lead()`` anew when it re-acquires the lease (``on_change(True)``, another line). The
       process never exits for a lost lease: its caches stay warm, so the next takeover (by it or
       another replica) needs no relist, and an outage of the apiserver or etcd longer than the
       renew deadline costs no restart;
    4. if ``lead()`` returns or the elector is cancelled (graceful shutdown), the lease is released
       (rewritten with no holder and ``leaseDurationSeconds: 1``) within the renew deadline — but
       never after a step-down: a lease this process may have lost is not touched.

Guarantees and caveats:
    * expiry is judged from the *local monotonic* time at which this process last saw the lease
      record change, never from the timestamps in the record, so clock skew between hosts does not
      matter (a skew *rate* does);
    * after a crash of the leader, a follower takes over at most ``lease_duration`` + one (jittered)
      retry period after the last renewal it observed: ≤ 15 + 2.4 s with the defaults;
    * writes stop before the lease can be taken: :meth:`LeaderElector.write_time_left` is the time
      left until the *start* of the last successful acquire/renew plus the renew deadline (local
      monotonic clock). Another replica cannot take over before that start plus the lease duration
      (it must observe our renewal, then wait the lease out), so the margin (lease duration - renew
      deadline, 5 s) covers clock-rate skew and requests in flight. The manager gives the
      controllers' client this fence: no write is sent once it reaches zero, and none is given more
      time than it has left — also after a pause (SIGSTOP, a frozen VM): on resuming, the first
      write is refused, even before the renew loop notices. The renew loop gives up at the same
      moment (``lead()`` is cancelled: the step-down), and the fence stays closed until the lease is
      acquired again (the start of that successful acquire + the renew deadline, as for a renewal);
    * the elector has its own budget: the manager gives it a client with its own connections, its
      own token bucket and no write slots (client-go gives leader election a client of its own), so
      renewals never queue behind a burst of reconcile writes nor wait for a free connection;
    * this is fencing on the client only: a write the apiserver received before the fence closed
      may still be applied after it (the apiserver has no lease-aware admission).
"""

from __future__ import annotations

import itertools
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import structlog

from informers.backoff import jittered
from informers.objects import dig, spec_of
from informers.resource import Resource
from informers.rest import ApiError, RestClient

log = structlog.get_logger("informers.leaderelection")

LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")


def default_identity() -> str:
    """``<hostname>_<uuid4>``: unique per process, readable in ``kubectl get lease``."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def micro_time(dt: datetime | None = None) -> str:
    """Kubernetes ``MicroTime``: RFC 3339 with microseconds, UTC."""
    return (dt or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaderElectionConfig:
    """Where the lease lives and the timings (seconds).

    Validated like client-go: ``lease_duration > renew_deadline > jitter x retry_period`` and each
    at least 1 s.
    """

    namespace: str
    name: str
    identity: str = field(default_factory=default_identity)
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    retry_jitter: float = 0.2
    request_timeout: float = 4.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if min(self.lease_duration, self.renew_deadline, self.retry_period) < 1:
            raise ValueError("leader election timings must each be at least 1 s")
        if not self.lease_duration > self.renew_deadline > (1 + self.retry_jitter) * self.retry_period:
            raise ValueError("need lease_duration > renew_deadline > (1 + jitter) * retry_period")


@dataclass
class LeaseRecord:
    """The fields of a Lease's spec that the algorithm compares."""

    holder: str
    lease_duration: int
    acquire_time: str | None
    renew_time: str | None
    transitions: int

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> LeaseRecord:
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            lease_duration=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "leaseDurationSeconds": self.lease_duration,
            "leaseTransitions": self.transitions,
        }
        if self.holder:
            spec["holderIdentity"] = self.holder
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


class LeaderElector:
    """Runs a callable only while holding the lease; see the module docstring."""

    def __init__(
        self,
        client: RestClient,
        config: LeaderElectionConfig,
        on_change: Callable[[bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.config = config
        self.on_change = on_change
        self.clock = clock
        self.is_leader = False
        self.observed: LeaseRecord | None = None
        self.observed_at = 0.0
        #: The Lease as this process last wrote it (while leading): renewals update it directly.
        self._held: dict[str, Any] | None = None
        #: The error of the last failed acquire/renew attempt (logged at a step-down).
        self.last_error = ""
        self._lost = False
        #: How many times this process has acquired the lease (1 on the first term).
        self.terms = 0
        self._renewed_at: float | None = None
        self._poke: anyio.Event | None = None
        self._rng = random.Random()

    # -- public ------------------------------------------------------------------------------------

    @property
    def write_deadline(self) -> float:
        """Local monotonic time after which this process must not write (0 when not leading)."""
        if not self.is_leader or self._renewed_at is None or self._lost:
            return 0.0
        return self._renewed_at + self.config.renew_deadline

    def write_time_left(self) -> float:
        """Seconds writes may still be sent (``<= 0``: refuse); the controllers' write fence."""
        return self.write_deadline - self.clock()

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Campaign, run ``lead()`` while holding the lease, step down and campaign again whenever
        renewal fails; release the lease and return when ``lead()`` returns (see the module docstring).
        """
        lease = f"{self.config.namespace}/{self.config.name}"
        while True:
            await self._acquire_loop()
            self._lost = False
            self.terms += 1
            self._set_leader(True)
            if self.terms == 1:
                log.info("became leader", lease=lease, identity=self.config.identity)
            else:
                log.warning(
                    "became leader again after stepping down",
                    lease=lease,
                    identity=self.config.identity,
                    term=self.terms,
                )
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._renew_loop, tg.cancel_scope, name="leader-renew")
                    await lead()
                    tg.cancel_scope.cancel()
            finally:
                lost = self._lost
                self._set_leader(False)
                if not lost and self.config.release_on_cancel:
                    with anyio.CancelScope(shield=True), anyio.move_on_after(self.config.renew_deadline):
                        await self.release()
            if not lost:
                return
            # lead() was cancelled and has returned: nothing it started runs any more.
            log.error(
                "lost the lease; stepped down (leading work stopped, caches kept) and campaigning again",
                lease=lease,
                identity=self.config.identity,
                renew_deadline=self.config.renew_deadline,
            )

    async def release(self) -> bool:
        """Give the lease up (only if this process holds it); return whether it was released."""
        try:
            lease = await self._get()
        except (ApiError, OSError, TimeoutError) as exc:
            log.warning("could not read lease to release it", error=str(exc))
            return False
        if lease is None:
            return False
        record = LeaseRecord.from_spec(spec_of(lease))
        if record.holder != self.config.identity:
            return False
        now = micro_time()
        released = LeaseRecord("", 1, now, now, record.transitions)
        try:
            await self._put(lease, released)
        except (ApiError, OSError, TimeoutError) as exc:
            log.warning("could not release lease", error=str(exc))
            return False
        log.info("released lease", lease=f"{self.config.namespace}/{self.config.name}")
        return True

    # -- the algorithm -----------------------------------------------------------------------------

    async def try_acquire_or_renew(self) -> bool:
        """One attempt (client-go ``tryAcquireOrRenew``); errors count as failure."""
        started = self.clock()
        try:
            return await self._try_acquire_or_renew()
        except (ApiError, OSError, TimeoutError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc} (after {self.clock() - started:.1f} s)"
            log.debug("lease attempt failed", error=self.last_error)
            return False
        except Exception as exc:  # aiohttp errors and anything unexpected: never crash the elector
            self.last_error = f"{type(exc).__name__}: {exc} (after {self.clock() - started:.1f} s)"
            log.warning("lease attempt failed", error=self.last_error)
            return False

    async def _try_acquire_or_renew(self) -> bool:
        started = self.clock()
        if await self._try_acquire_or_renew_once():
            self._renewed_at = started
            return True
        return False

    async def _try_acquire_or_renew_once(self) -> bool:
        cfg = self.config
        now_wall = micro_time()
        held = self._held if self.is_leader else None
        if held is not None:
            # The leader's fast path (client-go's since 1.27): update the Lease as last written,
            # without reading it first — one request per renewal instead of two. Safe: the update
            # carries the resourceVersion of that write, so it fails (409) if anyone wrote since.
            mine = LeaseRecord.from_spec(held.get("spec") or {})
            renewed = LeaseRecord(cfg.identity, int(cfg.lease_duration), mine.acquire_time, now_wall, mine.transitions)
            try:
                self._held = await self._put(held, renewed)
            except ApiError as exc:
                if not exc.conflict:
                    raise
                self._held = None  # someone else wrote it: read it and decide (the path below)
            else:
                self._observe(renewed, force=True)
                return True
        lease = await self._get()
        if lease is None:
            record = LeaseRecord(cfg.identity, int(cfg.lease_duration), now_wall, now_wall, 0)
            body = {
                "apiVersion": LEASES.api_version,
                "kind": LEASES.kind,
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": record.to_spec(),
            }
            try:
                created = await self.client.request(
                    "create",
                    LEASES.path(cfg.namespace),
                    resource=LEASES.name,
                    body=body,
                    request_timeout=self._request_timeout(),
                )
            except ApiError as exc:
                if exc.conflict:
                    return False
                raise
            self._held = created if isinstance(created, dict) else None
            self._observe(record)
            return True
        current = LeaseRecord.from_spec(spec_of(lease))
        self._observe(current)
        now = self.clock()
        duration = current.lease_duration or cfg.lease_duration
        if current.holder and current.holder != cfg.identity and self.observed_at + duration > now:
            return False
        if current.holder == cfg.identity:
            new = LeaseRecord(
                cfg.identity, int(cfg.lease_duration), current.acquire_time, now_wall, current.transitions
            )
        else:
            new = LeaseRecord(cfg.identity, int(cfg.lease_duration), now_wall, now_wall, current.transitions + 1)
        try:
            self._held = await self._put(lease, new)
        except ApiError as exc:
            if exc.conflict:
                return False
            raise
        self._observe(new, force=True)
        return True

    def _observe(self, record: LeaseRecord, force: bool = False) -> None:
        if force or record != self.observed:
            self.observed = record
            self.observed_at = self.clock()

    async def _get(self) -> dict[str, Any] | None:
        cfg = self.config
        try:
            lease: dict[str, Any] = await self.client.request(
                "get",
                LEASES.path(cfg.namespace, cfg.name),
                resource=LEASES.name,
                request_timeout=self._request_timeout(),
            )
        except ApiError as exc:
            if exc.not_found:
                return None
            raise
        return lease

    def _request_timeout(self) -> float:
        """A follower's request gets ``request_timeout`` (4 s). A leader's renewal gets all the time
        left until its write fence closes (at least ``request_timeout``), as client-go's renewals are
        bounded only by the renew deadline: under load an apiserver answering in 5 s still renews the
        lease, where a 4 s timeout threw every such answer away and retried 2 s later until the
        deadline passed (the leader dropped its own lease at 10 000 services)."""
        if self.is_leader:
            return max(self.config.request_timeout, self.write_time_left())
        return self.config.request_timeout

    async def _put(self, lease: dict[str, Any], record: LeaseRecord) -> dict[str, Any] | None:
        """Update the Lease (optimistic: ``lease``'s resourceVersion); return it as written."""
        cfg = self.config
        body = {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {
                "name": cfg.name,
                "namespace": cfg.namespace,
                "resourceVersion": dig(lease, "metadata", "resourceVersion"),
            },
            "spec": record.to_spec(),
        }
        written = await self.client.request(
            "update",
            LEASES.path(cfg.namespace, cfg.name),
            resource=LEASES.name,
            body=body,
            request_timeout=self._request_timeout(),
        )
        return written if isinstance(written, dict) else None

    # -- loops -------------------------------------------------------------------------------------

    async def _acquire_loop(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch_lease, name="leader-watch")
            while not await self.try_acquire_or_renew():
                if self._poke is None:
                    self._poke = anyio.Event()
                poke = self._poke
                with anyio.move_on_after(jittered(self.config.retry_period, self.config.retry_jitter, self._rng)):
                    await poke.wait()
            tg.cancel_scope.cancel()

    async def _renew_loop(self, scope: anyio.CancelScope) -> None:
        cfg = self.config
        while True:
            await anyio.sleep(cfg.retry_period)
            renewed = False
            # Give up when the write fence closes (the last renewal's start + the renew deadline),
            # not a renew deadline after this attempt: after a pause that is at once.
            with anyio.move_on_after(max(0.0, self.write_time_left())):
                renewed = await self._renew_until_success()
            if not renewed:
                log.warning(
                    "failed to renew lease within the renew deadline; stepping down",
                    lease=f"{cfg.namespace}/{cfg.name}",
                    deadline=cfg.renew_deadline,
                    last_error=self.last_error or "no attempt finished in time",
                )
                self._lost = True
                scope.cancel()
                return

    async def _renew_until_success(self) -> bool:
        """Retry every retry period until one attempt succeeds (the caller bounds it in time)."""
        for attempt in itertools.count():
            if attempt:
                await anyio.sleep(self.config.retry_period)
            if await self.try_acquire_or_renew():
                return True
        return False  # pragma: no cover - the loop above only ends by returning

    async def _watch_lease(self) -> None:
        """Poke the acquire loop whenever the Lease changes (best effort; polling remains)."""
        cfg = self.config
        query = [
            ("watch", "1"),
            ("fieldSelector", f"metadata.name={cfg.name}"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", "60"),
        ]
        while True:
            try:
                async with self.client.stream(
                    LEASES.path(cfg.namespace), query, resource=LEASES.name, read_timeout=90.0
                ) as resp:
                    while line := await resp.content.readline():
                        if b'"BOOKMARK"' in line[:40]:
                            continue
                        if self._poke is not None:
                            self._poke.set()
                            self._poke = None
            except Exception as exc:
                log.debug("lease watch failed", error=f"{type(exc).__name__}: {exc}")
            await anyio.sleep(cfg.retry_period)

    def _set_leader(self, value: bool) -> None:
        if self.is_leader != value:
            self.is_leader = value
            if self.on_change is not None:
                self.on_change(value)
