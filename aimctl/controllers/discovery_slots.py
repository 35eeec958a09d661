"""The cluster-wide cap on concurrent discovery Jobs (at most 10), shared by both template controllers.

The count is the discovery Jobs the Job cache shows as unfinished, plus Jobs this process has decided
to create but the cache does not show yet. Without the second part, two reconciles a few milliseconds
apart (two workers, or the namespaced and the cluster controller) would both see nine and both create
a Job. A reservation is taken synchronously — no ``await`` between counting and reserving — and is
dropped when the cache shows the Job, when the reconcile that took it did not create the Job, or after
:attr:`DiscoverySlots.ttl` seconds (a create that failed). Reservations are a rate limiter, not state:
after a restart the cache alone is authoritative.
"""

from __future__ import annotations

import time

from aimctl.controllers.common import ACTIVE_DISCOVERY, index_active_discovery
from informers.store import Store
from statemachines.template import MAX_CONCURRENT_DISCOVERY_JOBS


class DiscoverySlots:
    def __init__(self, jobs: Store, limit: int = MAX_CONCURRENT_DISCOVERY_JOBS, ttl: float = 30.0) -> None:
        jobs.add_indexer(ACTIVE_DISCOVERY, index_active_discovery)
        self.jobs = jobs
        self.limit = limit
        self.ttl = ttl
        self._reserved: dict[str, float] = {}

    def active(self) -> set[str]:
        """Keys of unfinished discovery Jobs, cached or reserved."""
        now = time.monotonic()
        for key, deadline in list(self._reserved.items()):
            if deadline < now or key in self.jobs:
                del self._reserved[key]
        return set(self.jobs.keys_by_index(ACTIVE_DISCOVERY, "active")) | set(self._reserved)

    def try_reserve(self, job_key: str) -> bool:
        """Reserve a slot for the Job ``namespace/name``; False when all slots are taken."""
        active = self.active()
        if job_key in active:
            return True
        if len(active) >= self.limit:
            return False
        self._reserved[job_key] = time.monotonic() + self.ttl
        return True

    def release(self, job_key: str) -> None:
        self._reserved.pop(job_key, None)
