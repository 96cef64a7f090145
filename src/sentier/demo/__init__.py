"""The deterministic demo organisation: one seeded model, written out as real files.

Each writer turns the same ``Organisation`` into one kind of input (catalog descriptors today;
later issues add Terraform, billing exports, alerts and logs), so they always agree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sentier.demo.aiops_files import write_aiops
from sentier.demo.billing_files import write_billing
from sentier.demo.catalog_files import write_catalog
from sentier.demo.greenops_files import write_greenops
from sentier.demo.organisation import Organisation, build_organisation
from sentier.demo.terraform_files import write_terraform

Writer = Callable[[Organisation, Path], dict[str, int]]
WRITERS: list[tuple[str, Writer]] = [
    ("catalog", write_catalog),
    ("terraform", write_terraform),
    ("aiops", write_aiops),
    ("billing", write_billing),
    ("greenops", write_greenops),
]


def generate_organisation(directory: Path, *, seed: int = 42) -> dict[str, int]:
    """Write every part of the demo organisation under ``directory``; returns what was written."""
    org = build_organisation(seed)
    directory.mkdir(parents=True, exist_ok=True)
    summary: dict[str, int] = {}
    for _name, writer in WRITERS:
        summary.update(writer(org, directory))
    return summary


__all__ = ["WRITERS", "Organisation", "build_organisation", "generate_organisation"]
