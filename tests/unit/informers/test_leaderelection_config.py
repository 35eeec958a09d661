"""Leader-election timings validation and the Lease record round trip (no network)."""

from __future__ import annotations

import re

import pytest

from informers.leaderelection import LeaderElectionConfig, LeaseRecord, default_identity, micro_time


def test_defaults_are_client_go_values() -> None:
    cfg = LeaderElectionConfig(namespace="ns", name="lease")
    assert (cfg.lease_duration, cfg.renew_deadline, cfg.retry_period) == (15.0, 10.0, 2.0)
    assert cfg.release_on_cancel


@pytest.mark.parametrize(
    ("lease", "renew", "retry"),
    [(10, 10, 2), (15, 2, 2), (15, 10, 0.5), (5, 4, 4)],
)
def test_invalid_timings_are_rejected(lease: float, renew: float, retry: float) -> None:
    with pytest.raises(ValueError, match=r"lease_duration|at least 1 s"):
        LeaderElectionConfig(namespace="ns", name="l", lease_duration=lease, renew_deadline=renew, retry_period=retry)


def test_record_round_trip_and_released_form() -> None:
    spec = {
        "holderIdentity": "me",
        "leaseDurationSeconds": 15,
        "acquireTime": "a",
        "renewTime": "r",
        "leaseTransitions": 3,
    }
    rec = LeaseRecord.from_spec(spec)
    assert rec.to_spec() == spec
    released = LeaseRecord("", 1, "t", "t", 3).to_spec()
    assert "holderIdentity" not in released
    assert released["leaseDurationSeconds"] == 1


def test_identity_and_micro_time_formats() -> None:
    assert default_identity() != default_identity()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", micro_time())
