"""``sentier drift``: compare a Terraform state with a snapshot of the live inventory."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class InventoryFormat(StrEnum):
    auto = "auto"
    aws_config = "aws-config"
    azure_resource_graph = "azure-resource-graph"
    gcp_asset = "gcp-asset"
    sentier = "sentier"


def drift(
    state: Annotated[
        Path, typer.Option("--state", help="Terraform state file (format version 4).")
    ],
    inventory: Annotated[Path, typer.Option("--inventory", help="Live inventory snapshot.")],
    inventory_format: Annotated[
        InventoryFormat, typer.Option("--inventory-format")
    ] = InventoryFormat.auto,
    json_output: Annotated[bool, typer.Option("--json", help="JSON report.")] = False,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit 1 when anything drifted.")
    ] = False,
) -> None:
    """Report resources unmanaged (live only), missing (state only) and changed."""
    import json

    from sentier.policy import PolicyError
    from sentier.policy.drift import detect_drift, render_text

    try:
        report = detect_drift(str(state), str(inventory), inventory_format=inventory_format.value)
    except PolicyError as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(2) from None
    if json_output:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render_text(report))
    if fail_on_drift and report.drifted:
        raise typer.Exit(1)
