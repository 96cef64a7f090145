"""GreenOps: what cloud use emits (scope 2 and scope 3), apart from what it costs.

Reads the same FOCUS usage lines as FinOps (``sentier.finops.Facts``) and attributes carbon
to the same owners (FinOps' allocation mapping), with its own model: Cloud Carbon Footprint's
energy and emissions method, coefficients versioned in ``data/``, an uncertainty range on
every figure, Boavizta's figure as a cross-check. Functions return plain data for the CLI,
the API and the portal.
"""

from sentier.greenops.boavizta import BoaviztaFigure, BoaviztaUnavailable
from sentier.greenops.boavizta import available as boavizta_available
from sentier.greenops.boavizta import instance_hours as boavizta_instance_hours
from sentier.greenops.classify import ESTIMATED, NOT_ESTIMATED, NOT_USAGE, Usage, classify
from sentier.greenops.coefficients import (
    Coefficients,
    GridFactor,
    InstanceSpec,
    load_coefficients,
    provider_key,
)
from sentier.greenops.errors import GreenOpsError
from sentier.greenops.lines import explain, line_id, parse_line_id, top_lines
from sentier.greenops.mapping import METHODS, build_mapping, carbon_mapping, factors_for
from sentier.greenops.model import Estimate, Factors, estimate_instance, utilization_bounds
from sentier.greenops.reports import (
    DIMENSIONS,
    CarbonContext,
    carbon_report,
    carbon_rows,
    not_estimated_reasons,
    yearly_summary,
)
from sentier.greenops.resources import (
    ResourceFact,
    ResourceFacts,
    load_resource_facts,
    read_metric_files,
    read_resource_csv,
    resource_sources,
    store_resource_facts,
)
from sentier.greenops.whatif import compare_instance_types, compare_regions, region_what_if

__all__ = [
    "DIMENSIONS",
    "ESTIMATED",
    "METHODS",
    "NOT_ESTIMATED",
    "NOT_USAGE",
    "BoaviztaFigure",
    "BoaviztaUnavailable",
    "CarbonContext",
    "Coefficients",
    "Estimate",
    "Factors",
    "GreenOpsError",
    "GridFactor",
    "InstanceSpec",
    "ResourceFact",
    "ResourceFacts",
    "Usage",
    "boavizta_available",
    "boavizta_instance_hours",
    "build_mapping",
    "carbon_mapping",
    "carbon_report",
    "carbon_rows",
    "classify",
    "compare_instance_types",
    "compare_regions",
    "estimate_instance",
    "explain",
    "factors_for",
    "line_id",
    "load_coefficients",
    "load_resource_facts",
    "not_estimated_reasons",
    "parse_line_id",
    "provider_key",
    "read_metric_files",
    "read_resource_csv",
    "region_what_if",
    "resource_sources",
    "store_resource_facts",
    "top_lines",
    "utilization_bounds",
    "yearly_summary",
]
