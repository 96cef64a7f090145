"""Builders of small descriptor trees for catalog tests (the `write` fixture is in conftest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def component(name: str, owner: str = "team-a", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "description": f"The {name} service", "tags": ["python"]},
        "spec": {"type": "service", "lifecycle": "production", "owner": owner, **spec},
    }


def group(name: str, parent: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "team", "children": []}
    if parent:
        spec["parent"] = parent
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": name},
        "spec": spec,
    }


def resource(name: str, owner: str = "team-a", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Resource",
        "metadata": {"name": name},
        "spec": {"type": "database", "owner": owner, **spec},
    }


def system(name: str, owner: str = "team-a") -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "System",
        "metadata": {"name": name},
        "spec": {"owner": owner},
    }


def api(name: str, owner: str = "team-a", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": name},
        "spec": {
            "type": "openapi",
            "lifecycle": "production",
            "owner": owner,
            "definition": "openapi: 3.0.0",
            **spec,
        },
    }


Writer = Callable[[str, list[dict[str, Any]]], Path]
