"""The catalogue of event types: each type's meaning and a JSON Schema of its ``data``.

The catalogue is data (``event_types.yaml``) so that subscribers read the same contract the
tests enforce; types declared in ``types.py`` without an entry are listed as undocumented
rather than hidden.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from sentier.events import types as type_constants
from sentier.events.errors import EventsError

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    text = resources.files("sentier.events").joinpath("event_types.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def declared_types() -> list[str]:
    """Every event type constant of ``sentier.events.types``."""
    return sorted(
        value
        for name, value in vars(type_constants).items()
        if name.isupper() and isinstance(value, str) and value.startswith("io.sentier.")
    )


def data_schema(type: str) -> dict[str, Any] | None:
    """A self-contained JSON Schema (2020-12) of ``data`` for ``type``, or None if undocumented."""
    document = _load()
    entry = document["types"].get(type)
    if entry is None:
        return None
    schema: dict[str, Any] = copy.deepcopy(entry["data"])
    schema["$schema"] = SCHEMA_DIALECT
    schema["$id"] = f"urn:sentier:event-data:{type}"
    schema["title"] = f"data of {type}"
    schema["$defs"] = copy.deepcopy(document.get("$defs", {}))
    return schema


def list_types() -> list[dict[str, Any]]:
    """The catalogue as plain data: type, domain, description, data schema."""
    entries = _load()["types"]
    out = []
    for type in sorted(set(declared_types()) | set(entries)):
        entry = entries.get(type)
        out.append(
            {
                "type": type,
                "domain": entry["domain"] if entry else type.split(".")[2],
                "description": entry["description"] if entry else None,
                "documented": entry is not None,
                "dataschema": data_schema(type),
            }
        )
    return out


@lru_cache(maxsize=256)
def _validator(type: str) -> Draft202012Validator | None:
    schema = data_schema(type)
    return None if schema is None else Draft202012Validator(schema)


def validate_data(type: str, data: Any) -> list[str]:
    """Problems of ``data`` against the schema of ``type`` (empty when valid or undocumented)."""
    validator = _validator(type)
    if validator is None:
        return []
    return [
        f"data.{'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    ]


def check_data(type: str, data: Any) -> None:
    """Raise :class:`EventsError` when ``data`` does not match the schema of ``type``."""
    problems = validate_data(type, data)
    if problems:
        raise EventsError("; ".join(problems[:5]), field="data")
