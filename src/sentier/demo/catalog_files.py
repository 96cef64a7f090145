"""Writes the demo organisation's catalog as Backstage descriptor files.

The layout is the one real organisations have: one ``catalog-info.yaml`` per service
repository, an org folder for groups and users, and a Location that gathers shared resources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sentier.demo.organisation import Organisation

API_DEFINITIONS = {
    "openapi": "openapi: 3.0.3\ninfo:\n  title: {title}\n  version: 1.0.0\npaths: {{}}\n",
    "grpc": (
        'syntax = "proto3";\n\nservice {service} {{\n  rpc Get (Request) returns (Reply);\n}}\n'
    ),
    "asyncapi": "asyncapi: 2.6.0\ninfo:\n  title: {title}\n  version: 1.0.0\nchannels: {{}}\n",
}


def _dump(path: Path, documents: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False, width=100), encoding="utf-8")


def _entity(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, **{k: v for k, v in metadata.items() if v}},
        "spec": spec,
    }


def write_catalog(org: Organisation, root: Path) -> dict[str, int]:
    """Write every descriptor under ``root/catalog``; returns counts per kind."""
    base = root / "catalog"
    counts: dict[str, int] = {}

    def count(kind: str, n: int = 1) -> None:
        counts[kind] = counts.get(kind, 0) + n

    groups = []
    for name, group_type, parent, display in org.groups:
        spec: dict[str, Any] = {
            "type": group_type,
            "profile": {"displayName": display},
            "children": [],
        }
        if parent:
            spec["parent"] = parent
        groups.append(_entity("Group", name, spec, title=display))
    users = [
        _entity(
            "User",
            person.name,
            {
                "profile": {"displayName": person.display_name, "email": person.email},
                "memberOf": [person.team],
            },
        )
        for person in org.people
    ]
    _dump(base / "org" / "catalog-info.yaml", groups + users)
    count("Group", len(groups))
    count("User", len(users))

    domain_docs = []
    for domain, (description, systems) in org.domains.items():
        domain_docs.append(
            _entity("Domain", domain, {"owner": "engineering"}, description=description)
        )
        for system in systems:
            team = org.systems[system][0]
            domain_docs.append(
                _entity(
                    "System",
                    system,
                    {"owner": team, "domain": domain},
                    title=system.replace("-", " ").title(),
                    description=f"The {system.replace('-', ' ')} system",
                )
            )
    _dump(base / "domains" / "catalog-info.yaml", domain_docs)
    count("Domain", len(org.domains))
    count("System", len(org.systems))

    apis_by_name = {api.name: api for api in org.apis}
    for component in org.components:
        region = org.systems[component.system][3]
        documents = [
            _entity(
                "Component",
                component.name,
                {
                    "type": component.type,
                    "lifecycle": "production" if component.tier < 3 else "experimental",
                    "owner": component.owner,
                    "system": component.system,
                    **({"providesApis": component.provides} if component.provides else {}),
                    **({"consumesApis": component.consumes} if component.consumes else {}),
                    **({"dependsOn": component.depends_on} if component.depends_on else {}),
                },
                title=component.name.replace("-", " ").title(),
                description=component.description,
                tags=[component.language, component.type],
                labels={"tier": f"tier-{component.tier}"},
                annotations={
                    "github.com/project-slug": f"acme/{component.name}",
                    "backstage.io/kubernetes-id": component.name,
                    "backstage.io/techdocs-ref": "dir:.",
                    "sentier.io/region": region,
                },
                links=[
                    {
                        "url": f"https://git.acme.example/acme/{component.name}",
                        "title": "Repository",
                    }
                ],
            )
        ]
        for api_name in component.provides:
            api = apis_by_name[api_name]
            title = api.name.replace("-", " ").title()
            documents.append(
                _entity(
                    "API",
                    api.name,
                    {
                        "type": api.type,
                        "lifecycle": "production",
                        "owner": api.owner,
                        "system": api.system,
                        "definition": API_DEFINITIONS[api.type].format(
                            title=title, service=title.replace(" ", "")
                        ),
                    },
                    description=api.description,
                    tags=[api.type],
                )
            )
            count("API")
        _dump(base / "services" / component.name / "catalog-info.yaml", documents)
        count("Component")

    resource_files = []
    for resource in org.resources:
        path = base / "platform" / "resources" / f"{resource.name}.yaml"
        _dump(
            path,
            [
                _entity(
                    "Resource",
                    resource.name,
                    {"type": resource.type, "owner": resource.owner, "system": resource.system},
                    description=f"{resource.engine} {resource.type} of {resource.system}",
                    tags=[resource.engine, resource.provider],
                    annotations={
                        "sentier.io/cloud-provider": resource.provider,
                        "sentier.io/region": resource.region,
                        "sentier.io/cloud-resource-ids": resource.cloud_id,
                        "sentier.io/data-classification": resource.classification,
                    },
                )
            ],
        )
        resource_files.append(path)
        count("Resource")
    location = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": "platform-resources",
            "description": "Cloud resources of every system",
        },
        "spec": {"type": "file", "targets": ["./resources/*.yaml"]},
    }
    _dump(base / "platform" / "catalog-info.yaml", [location])
    count("Location")
    return counts
