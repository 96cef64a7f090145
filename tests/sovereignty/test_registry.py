"""The region registry and the sovereignty verdicts built on it."""

from __future__ import annotations

import pytest

from sentier.sovereignty import SovereigntyError, find_region, judge, registry


def test_registry_covers_providers_and_eu_facts() -> None:
    regions = registry()
    assert {"aws", "azure", "gcp", "ovhcloud", "scaleway", "s3ns"} <= set(regions)
    paris = find_region("aws", "eu-west-3")
    assert paris and paris.country == "FR" and paris.in_eea and paris.cloud_act
    assert find_region("azurerm", "France Central") is not None
    assert find_region("aws", "eu-west-3a") == paris


def test_verdicts() -> None:
    assert judge("aws", "eu-west-3", "confidential").allowed
    restricted = judge("aws", "eu-west-3", "restricted")
    assert not restricted.allowed and "CLOUD Act" in restricted.reasons[0]
    assert not judge("google", "us-central1", "confidential").allowed
    unknown = judge("aws", "mars-1", "internal")
    assert not unknown.allowed and "not" in unknown.reasons[0]
    with pytest.raises(SovereigntyError):
        judge("aws", "eu-west-3", "top-secret")


def test_registry_agrees_with_the_corpus(corpora) -> None:  # type: ignore[no-untyped-def]
    import csv

    with (corpora / "sovereignty" / "cloud_regions.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        region = find_region(row["provider"], row["region_id"])
        assert region is not None, row["region_id"]
        assert region.in_eea == (row["in_eea"] == "true")
        assert region.cloud_act == (row["subject_to_us_cloud_act"] == "true")
