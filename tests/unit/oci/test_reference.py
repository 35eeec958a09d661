"""Registry mirrors: parsing the setting and rewriting references (pure)."""

from __future__ import annotations

import pytest

from aimctl.oci.reference import mirrored, parse_mirrors, parse_reference


def test_mirrors_parse_and_replace_the_registry() -> None:
    mirrors = parse_mirrors("docker.io=127.0.0.1:5000, ghcr.io=mirror.local")
    assert mirrors == {"registry-1.docker.io": "127.0.0.1:5000", "ghcr.io": "mirror.local"}
    ref = mirrored(parse_reference("amdenterpriseai/aim-llama:0.8.4"), mirrors)
    assert (ref.registry, ref.repository, ref.tag) == ("127.0.0.1:5000", "amdenterpriseai/aim-llama", "0.8.4")
    assert ref.insecure
    assert mirrored(parse_reference("quay.io/x/y:1"), mirrors).registry == "quay.io"


def test_bad_mirror_entries_name_the_entry_and_the_form() -> None:
    with pytest.raises(ValueError, match=r"'docker.io' is not registry=mirror-host\[:port\]"):
        parse_mirrors("docker.io")
