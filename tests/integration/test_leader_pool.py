"""The leader keeps its lease while every connection of the shared request pool is held.

At 10 000 services the operator's unary pool carries status writes, InferenceService applies,
events and reads; a lease renewal that has to wait for one of those connections misses its 4 s
request timeout and, a few in a row, the 10 s renew deadline: the leader drops its own lease
under its own load. The elector therefore renews over connections of its own
(``RestClient.sibling(own_connections=True)``).

The test makes that load deterministic: an in-process :class:`aimctl.manager.Manager` over a
client whose request pool has 2 connections, both held open by long requests (watches sent through
the *request* transport, as a slow answer would hold them). Before the fix the elector's GET waited
for a free connection and timed out, so the process never became leader; now it acquires the lease
and renews it for longer than a lease duration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp
import anyio
import pytest

from aimctl.kube.client import ClientSettings, new_client
from aimctl.kube.resources import LEASES
from aimctl.manager import Manager, ManagerConfig
from informers.rest import ApiError, RestClient
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster]

LEASE = "aimctl-pool-test"
POOL = 2


async def lease_spec(rest: RestClient, namespace: str) -> dict[str, Any]:
    try:
        lease = await rest.request("get", LEASES.path(namespace, LEASE), request_timeout=5)
    except ApiError as exc:
        if exc.not_found:
            return {}
        raise
    return dict(lease.get("spec") or {})


async def test_the_leader_renews_while_the_shared_request_pool_is_exhausted(cluster: Any, namespace: str) -> None:
    observer = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))  # the test's own view
    rest = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig, connection_pool_size=POOL))
    held: list[aiohttp.ClientResponse] = []
    try:
        for _ in range(POOL):  # every connection of the request pool, held for two minutes
            held.append(
                await rest.api_client.call_api(
                    f"/api/v1/namespaces/{namespace}/configmaps",
                    "GET",
                    query_params=[("watch", "1"), ("timeoutSeconds", "120")],
                    _request_timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                )
            )
        assert all(r.status == 200 for r in held)
        manager = Manager(
            rest,
            ManagerConfig(
                namespaces=[namespace],
                leader_election_namespace=namespace,
                leader_election_id=LEASE,
                leader_election_identity="pool",
                metrics_address=None,
                probe_address=None,
            ),
        )
        async with anyio.create_task_group() as tg:
            await tg.start(manager.run)
            await wait_for(
                lambda: lease_spec(observer, namespace),
                lambda spec: spec.get("holderIdentity") == "pool",
                timeout=30,
                what="the lease acquired while the request pool is exhausted (lease spec)",
            )
            acquired = dt.datetime.now(dt.UTC)
            # Renewed more than a lease duration after it was acquired: renewals got through.
            spec = await wait_for(
                lambda: lease_spec(observer, namespace),
                lambda spec: (
                    spec.get("holderIdentity") != "pool"
                    or (dt.datetime.fromisoformat(spec["renewTime"]) - acquired).total_seconds()
                    > spec["leaseDurationSeconds"]
                ),
                timeout=40,
                what="a renewal a lease duration after the acquisition (lease spec)",
            )
            assert spec.get("holderIdentity") == "pool", f"the leader lost its lease: {spec}"
            assert manager.elector is not None and manager.elector.terms == 1, "the leader stepped down meanwhile"
            manager.request_stop()
    finally:
        for resp in held:
            resp.close()
        await rest.close()
        await observer.close()
