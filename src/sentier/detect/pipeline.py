"""The pySigma processing pipeline that renames Sigma's field names to sentier's.

Built from ``data/logsources.yaml`` (``fields``): one field-mapping item per log source, each
applied only to rules of that log source. Rules are run through it once, when loaded; the
streaming and SQL engines then read sentier's names only.
"""

from __future__ import annotations

from functools import cache

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation

from sentier.detect.records import logsource_data


@cache
def field_mappings() -> tuple[tuple[dict[str, str], dict[str, str]], ...]:
    """(logsource condition, Sigma field -> sentier field) pairs, as in the data file."""
    out = []
    for item in logsource_data().get("fields") or []:
        condition = {k: str(v) for k, v in (item.get("logsource") or {}).items()}
        mapping = {str(k): str(v) for k, v in (item.get("map") or {}).items()}
        out.append((condition, mapping))
    return tuple(out)


def _mapping(mapping: dict[str, str]) -> dict[str | None, str | list[str]]:
    return {name: target for name, target in mapping.items()}


def sentier_pipeline() -> ProcessingPipeline:
    """A fresh pipeline (pySigma pipelines keep per-run state, so one per load)."""
    items = [
        ProcessingItem(
            identifier=f"sentier-fields-{index}",
            transformation=FieldMappingTransformation(_mapping(mapping)),
            rule_conditions=[LogsourceCondition(**condition)],
        )
        for index, (condition, mapping) in enumerate(field_mappings())
    ]
    return ProcessingPipeline(name="sentier field names", priority=20, items=items)


def original_names(
    product: str | None, service: str | None, category: str | None
) -> dict[str, str]:
    """sentier field -> Sigma field for a rule of this log source (for error messages)."""
    out: dict[str, str] = {}
    given = {"product": product, "service": service, "category": category}
    for condition, mapping in field_mappings():
        if all(given.get(k) == v for k, v in condition.items()):
            out.update({target: source for source, target in mapping.items()})
    return out
