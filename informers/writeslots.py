"""Write slots: at most ``capacity`` writes in flight, reconcile writes before background ones.

Why: the client bounds its writes in flight (``--max-inflight-writes``) so a burst of work never
floods the apiserver; but not every write is as urgent. A reconcile's writes (status, children) are
what a user waits for; Events are informational and can trail. During a burst (1 000 services created
at once) the two Events per service were two of its five writes: posted as equals they took 40 % of
the apiserver's write throughput while services waited for their status (issue 18).

Rules (foreground = the default; background = ``acquire(background=True)``):

* at most ``capacity`` writes of both kinds are in flight;
* a foreground write takes a free slot at once, and waiting foreground writes are served first come
  first served, before any background one;
* a background write never takes a slot while a foreground write waits for one;
* while foreground writes are **busy** — one in flight, one waiting, or the last one finished less
  than ``linger`` seconds ago — background writes hold at most ``background_busy`` slots (a trickle:
  they still move); otherwise they may take every free slot.

Guarantees: no write waits for ever while slots free up (a background writer re-checks at least every
``linger`` seconds, so the end of a burst is noticed without a foreground release); a writer
cancelled while waiting takes no slot, and one cancelled just after being handed a slot gives it
back. Caveat: background writes can be held back for as long as foreground writes stay busy, at the
trickle rate; a caller that must not fall behind (the event recorder with a half-full queue) asks
as a foreground writer instead.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio

#: Background writes in flight at most while foreground writes are busy.
BACKGROUND_BUSY = 2
#: Seconds after the last foreground write during which foreground writes still count as busy.
LINGER = 0.5


class WriteSlots:
    """A capacity limiter with two priorities; see the module docstring for the rules."""

    def __init__(
        self,
        capacity: int,
        *,
        background_busy: int = BACKGROUND_BUSY,
        linger: float = LINGER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.background_busy = max(1, min(background_busy, capacity))
        self.linger = linger
        self._clock = clock
        self.foreground = 0  # in flight
        self.background = 0  # in flight
        self._waiters: deque[anyio.Event] = deque()  # foreground writers waiting, in order
        self._background_waiters: deque[anyio.Event] = deque()
        self._last_foreground = float("-inf")

    @property
    def free(self) -> int:
        return self.capacity - self.foreground - self.background

    def foreground_busy(self) -> bool:
        return bool(self.foreground or self._waiters) or self._clock() - self._last_foreground < self.linger

    def _background_may_take(self) -> bool:
        if self.free <= 0 or self._waiters:
            return False
        return self.background < self.background_busy or not self.foreground_busy()

    def _hand_over(self) -> None:
        """Give free slots to waiting foreground writers first, then to background ones the rules
        allow (each woken writer is handed its slot: no herd of waiters re-checking)."""
        while self.free > 0 and self._waiters:
            self.foreground += 1
            self._waiters.popleft().set()
        while self._background_waiters and self._background_may_take():
            self.background += 1
            self._background_waiters.popleft().set()

    async def acquire(self, background: bool = False) -> None:
        if background:
            await self._acquire_background()
            return
        if self.free > 0 and not self._waiters:
            self.foreground += 1
            return
        granted = anyio.Event()
        self._waiters.append(granted)
        try:
            await granted.wait()
        except BaseException:
            if granted.is_set():  # handed a slot while being cancelled: give it back
                self.release(background=False)
            else:
                self._waiters.remove(granted)
            raise

    async def _acquire_background(self) -> None:
        if self._background_may_take() and not self._background_waiters:
            self.background += 1
            return
        while True:
            granted = anyio.Event()
            self._background_waiters.append(granted)
            try:
                with anyio.move_on_after(self.linger):
                    await granted.wait()
            except BaseException:
                if granted.is_set():
                    self.release(background=True)
                else:
                    self._background_waiters.remove(granted)
                raise
            if granted.is_set():
                return
            # Not handed a slot within `linger`: the burst may be over without a release to say so.
            self._background_waiters.remove(granted)
            if self._background_may_take():
                self.background += 1
                return

    def release(self, background: bool = False) -> None:
        if background:
            self.background -= 1
        else:
            self.foreground -= 1
            self._last_foreground = self._clock()
        self._hand_over()

    @asynccontextmanager
    async def slot(self, background: bool = False) -> AsyncIterator[None]:
        await self.acquire(background)
        try:
            yield
        finally:
            self.release(background)
