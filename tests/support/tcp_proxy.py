"""A loopback TCP proxy whose open connections can be frozen: bytes stop flowing, sockets stay open.

Why: a watch behind a dead load balancer or a half-open TCP connection gets no error and no data
— exactly what the reflector's inactivity watchdog exists for. Freezing the proxy reproduces that
for real (TLS stays end to end: the proxy only copies bytes).
"""

from __future__ import annotations

import anyio
import anyio.abc


class FreezableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0
        self._frozen_generation: int | None = None
        self._generation = 0

    def freeze_existing(self) -> None:
        """Stop relaying on every connection opened so far; new connections work normally."""
        self._frozen_generation = self._generation
        self._generation += 1

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        async with listener:
            self.port = int(listener.extra(anyio.abc.SocketAttribute.local_port))
            task_status.started(self.port)
            await listener.serve(self._handle)

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        generation = self._generation
        self.connections += 1
        async with client, await anyio.connect_tcp(*self.target) as upstream, anyio.create_task_group() as tg:
            tg.start_soon(self._pump, client, upstream, generation)
            tg.start_soon(self._pump, upstream, client, generation)

    def _frozen(self, generation: int) -> bool:
        return self._frozen_generation is not None and generation <= self._frozen_generation

    async def _pump(self, src: anyio.abc.SocketStream, dst: anyio.abc.SocketStream, generation: int) -> None:
        try:
            while True:
                data = await src.receive()
                if self._frozen(generation):
                    await anyio.sleep_forever()  # hold the socket open, deliver nothing
                await dst.send(data)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            with anyio.CancelScope(shield=True):
                await dst.aclose()
