"""The model against hand-computed figures (CCF's formulas, the coefficients in data/)."""

from __future__ import annotations

import pytest

from sentier.greenops import (
    GreenOpsError,
    compare_instance_types,
    compare_regions,
    estimate_instance,
    factors_for,
    load_coefficients,
)

C = load_coefficients()
AWS_PUE = 1.135
LIFESPAN = 35040


def test_ccf_worked_case_m5_large_one_hour_in_paris() -> None:
    """AWS m5.large, 1 h, 50 % load, eu-west-3: 0.00139 kgCO2e with CCF's coefficients."""
    compute = 2 * (0.65 + 0.5 * (4.26 - 0.65)) / 1000  # Skylake W per vCPU
    # m5's largest type: 96 vCPU (one chip), 384 GB; Skylake's SPECpower baseline 81.32 GB.
    memory = (384 - 81.32) / (384 / 8) * 0.000392
    energy = (compute + memory) * AWS_PUE
    scope2 = energy * 0.0511
    scope3 = 1610.79 / LIFESPAN * 2 / 96
    estimate = estimate_instance(C, "aws", "m5.large", "eu-west-3", hours=1)
    assert estimate.energy_components["compute"] == pytest.approx(compute)
    assert estimate.energy_components["memory"] == pytest.approx(memory)
    assert estimate.energy_kwh == pytest.approx(energy)
    assert estimate.scope2_location == pytest.approx(scope2)
    assert estimate.scope3 == pytest.approx(scope3)
    assert round(estimate.total, 5) == 0.00139
    low, high = estimate.total_range
    assert low < estimate.total < high
    assert estimate.utilization == 0.5 and estimate.utilization_source == "default"
    assert estimate.coefficients["processors"] == ["Skylake"]
    assert estimate.coefficients["grid_source"] == "ccf-app"


def test_boavizta_figure_beside_it() -> None:
    from sentier.greenops import boavizta_available, boavizta_instance_hours

    if not boavizta_available():
        pytest.skip("boaviztapi not installed (make install installs it)")
    figure = boavizta_instance_hours("aws", "m5.large", "eu-west-3", 0.5, 1.0)
    assert figure.country == "FRA"
    assert figure.use == pytest.approx(0.00111)
    assert figure.embedded == pytest.approx(0.00046)
    assert round(figure.total, 5) == 0.00157


def test_utilisation_changes_compute_only() -> None:
    busy = estimate_instance(C, "aws", "m5.large", "eu-west-3", utilization=0.9)
    idle = estimate_instance(C, "aws", "m5.large", "eu-west-3", utilization=0.1)
    assert busy.energy_components["compute"] - idle.energy_components["compute"] == pytest.approx(
        2 * 0.8 * (4.26 - 0.65) / 1000
    )
    assert busy.energy_components["memory"] == idle.energy_components["memory"]
    assert busy.scope3 == idle.scope3
    # A given utilisation narrows the range to +-5 points; the default spans 20-80 %.
    given = estimate_instance(C, "aws", "m5.large", "eu-west-3", utilization=0.5)
    default = estimate_instance(C, "aws", "m5.large", "eu-west-3")
    assert given.total == pytest.approx(default.total)
    assert given.energy_kwh_range[1] - given.energy_kwh_range[0] < (
        default.energy_kwh_range[1] - default.energy_kwh_range[0]
    )


def test_gpu_instance() -> None:
    """p3.2xlarge: 8 vCPU Broadwell, 61 GB, one V100; p3's largest is 64 vCPU, 488 GB."""
    compute = 8 * (0.71 + 0.5 * (3.69 - 0.71)) / 1000
    memory = (488 - 69.65) / (488 / 61) * 0.000392
    gpu = 1 * (35 + 0.5 * (306 - 35)) / 1000
    energy = (compute + memory + gpu) * AWS_PUE
    estimate = estimate_instance(C, "aws", "p3.2xlarge", "us-east-1", hours=2)
    assert estimate.energy_components["gpu"] == pytest.approx(2 * gpu)
    assert estimate.energy_kwh == pytest.approx(2 * energy)
    assert estimate.scope2_location == pytest.approx(2 * energy * 0.379069)
    assert estimate.scope3 == pytest.approx(3543.79 * 2 / LIFESPAN * 8 / 64)


def test_embodied_is_amortised_per_instance_share() -> None:
    ten_hours = estimate_instance(C, "aws", "m5.xlarge", "eu-west-3", hours=10)
    assert ten_hours.scope3 == pytest.approx(1610.79 * 10 / LIFESPAN * 4 / 96)
    # Doubling the size doubles the share of the same server.
    double = estimate_instance(C, "aws", "m5.2xlarge", "eu-west-3", hours=10)
    assert double.scope3 == pytest.approx(2 * ten_hours.scope3)


def test_storage_ssd_and_hdd_with_replication() -> None:
    ssd = factors_for(C, "storage", "aws", "eu-west-3", medium="ssd", replication="EC2_EBS_VOLUME")
    # 1,000 GB-months of EBS: 730,000 GB-h x 1.2 Wh/TB-h x 2 replicas.
    kwh = 730_000 * 1.2 / 1e6 * 2
    estimate = ssd.at(730_000, 0.5, (0.2, 0.8), utilization_source="default")
    assert estimate.it_kwh == pytest.approx(kwh)
    assert estimate.scope2_location == pytest.approx(kwh * AWS_PUE * 0.0511)
    assert estimate.scope3 == 0
    hdd = factors_for(C, "storage", "aws", "us-east-1", medium="hdd", replication="S3")
    s3 = hdd.at(73_000, 0.5, (0.2, 0.8), utilization_source="default")
    assert s3.scope2_location == pytest.approx(73_000 * 0.65 / 1e6 * 6 * AWS_PUE * 0.379069)


def test_memory_billed_alone_and_market_based_where_known() -> None:
    """GCP memory GB-hours in europe-west1: region PUE 1.09, grid 0.11, CFE-adjusted 0.0198."""
    factors = factors_for(C, "memory", "gcp", "europe-west1")
    estimate = factors.at(100, 0.5, (0.2, 0.8), utilization_source="default")
    energy = 100 * 0.000392 * 1.09
    assert estimate.energy_kwh == pytest.approx(energy)
    assert estimate.scope2_location == pytest.approx(energy * 0.11)
    assert estimate.market_known
    assert estimate.scope2_market == pytest.approx(energy * 0.0198)


def test_network_between_regions() -> None:
    factors = factors_for(C, "network", "aws", "eu-west-3")
    estimate = factors.at(50, 0.5, (0.2, 0.8), utilization_source="default")
    assert estimate.scope2_location == pytest.approx(50 * 0.001 * AWS_PUE * 0.0511)
    # Market-based unknown for AWS: the location-based figure stands, its range reaches zero.
    assert not estimate.market_known
    assert estimate.scope2_market == estimate.scope2_location
    assert estimate.scope2_market_range[0] == 0


def test_region_what_if() -> None:
    paris = estimate_instance(C, "aws", "m5.large", "eu-west-3")
    stockholm = estimate_instance(C, "aws", "m5.large", "eu-north-1")
    assert stockholm.scope2_location == pytest.approx(paris.energy_kwh * 0.0088)
    assert stockholm.scope3 == paris.scope3
    ranked = compare_regions(
        C,
        "aws",
        "m5.large",
        regions=["eu-west-3", "eu-north-1", "us-east-1"],
        base_region="eu-west-3",
    )
    assert [r["region"] for r in ranked] == ["eu-north-1", "eu-west-3", "us-east-1"]
    assert ranked[1]["change"] == 0
    assert ranked[0]["change"] == pytest.approx((stockholm.total - paris.total) / paris.total)


def test_instance_family_what_if_keeps_the_size() -> None:
    ranked = compare_instance_types(
        C, "aws", "m5.large", "eu-west-3", candidates=["m6g.large", "m5.large", "c5.large"]
    )
    assert {r["instance_type"] for r in ranked} == {"m6g.large", "m5.large", "c5.large"}
    totals = [r["total_kg"] for r in ranked]
    assert totals == sorted(totals)
    graviton = next(r for r in ranked if r["instance_type"] == "m6g.large")
    assert graviton["total_kg"] == pytest.approx(
        estimate_instance(C, "aws", "m6g.large", "eu-west-3").total
    )


def test_managed_service_and_other_providers_types() -> None:
    rds = estimate_instance(C, "aws", "db.m5.large", "eu-west-3")
    ec2 = estimate_instance(C, "aws", "m5.large", "eu-west-3")
    assert rds.energy_kwh == pytest.approx(ec2.energy_kwh)
    gcp = estimate_instance(C, "gcp", "n2-standard-8", "europe-west1")
    assert gcp.coefficients["vcpus"] == 8 and gcp.coefficients["memory_gb"] == 32
    azure = estimate_instance(C, "azure", "Standard_D4s_v3", "westeurope")
    assert azure.coefficients["vcpus"] == 4


def test_unknown_region_uses_provider_average_with_a_wide_range() -> None:
    estimate = estimate_instance(C, "aws", "m5.large", "mars-north-1")
    assert estimate.grid_location == pytest.approx(0.392782)
    assert any("not in the grid table" in n for n in estimate.notes)
    low, high = estimate.scope2_location_range
    assert low < estimate.scope2_location * 0.1 and high > estimate.scope2_location * 1.5


def test_bad_workloads_are_refused_clearly() -> None:
    with pytest.raises(GreenOpsError, match=r"unknown aws instance type 'm5\.huge'"):
        estimate_instance(C, "aws", "m5.huge", "eu-west-3")
    with pytest.raises(GreenOpsError, match="utilization"):
        estimate_instance(C, "aws", "m5.large", "eu-west-3", utilization=1.5)


def test_shared_core_types_take_their_share_of_a_host() -> None:
    """e2-medium: one vCPU of an e2 host whose largest type has 32 vCPUs."""
    estimate = estimate_instance(C, "gcp", "e2-medium", "europe-west1", hours=24)
    assert estimate.scope3 == pytest.approx(1230.46 * 24 / LIFESPAN * 1 / 32)
