"""The demo organisation as data: who exists, what they own, what depends on what.

One seeded model that every writer (catalog descriptors now; Terraform, billing, alerts and
logs later) reads, so that all the files of the demo describe the same company.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

DOMAINS: dict[str, tuple[str, tuple[str, str]]] = {
    # domain: (description, (system, system))
    "payments": ("Taking money safely", ("payment-gateway", "billing")),
    "commerce": ("Selling to customers", ("storefront", "product-search")),
    "logistics": ("Moving parcels", ("fulfilment", "shipping")),
    "identity": ("Who is who", ("accounts", "auth")),
    "data": ("Knowing what happens", ("analytics", "data-platform")),
    "platform": ("Paved roads for every team", ("observability", "developer-portal")),
}

# system -> (team, names of its parts, main language, cloud region)
_SYSTEM_TABLE = """
payment-gateway  team-payments   java        eu-west-3     payments card-vault fraud-scoring payment-router refunds
billing          team-billing    kotlin      eu-west-3     invoicing ledger tax-engine dunning billing-portal
storefront       team-storefront typescript  eu-west-1     storefront-web cart checkout promotions reviews
product-search   team-search     python      eu-west-1     search-api indexer ranking autocomplete catalogue-sync
fulfilment       team-logistics  go          eu-central-1  orders warehouse picking inventory returns
shipping         team-logistics  go          eu-central-1  carrier-gateway tracking labels rates delivery-slots
accounts         team-identity   java        eu-west-3     accounts profiles consents addresses account-web
auth             team-identity   go          eu-west-3     auth token-service mfa sessions login-web
analytics        team-data       python      europe-west1  events-collector clickstream reporting experiments dashboards
data-platform    team-data       python      europe-west1  lakehouse ingestion data-catalog feature-store scheduler
observability    team-sre        go          eu-west-3     metrics-gateway log-pipeline alert-router tracing status-page
developer-portal team-platform   typescript  eu-west-3     portal scaffolder ci-runners artifact-store docs-site
"""  # noqa: E501
SYSTEMS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    system: (team, tuple(parts), language, region)
    for system, team, language, region, *parts in (
        line.split() for line in _SYSTEM_TABLE.strip().splitlines()
    )
}
WEBSITES = frozenset({"portal", "docs-site", "dashboards", "status-page"})

GROUPS: tuple[tuple[str, str, str | None, str], ...] = (
    # name, type, parent, display name
    ("acme", "organization", None, "ACME Corp"),
    ("engineering", "department", "acme", "Engineering"),
    ("product-engineering", "division", "engineering", "Product Engineering"),
    ("platform-engineering", "division", "engineering", "Platform Engineering"),
    ("team-payments", "team", "product-engineering", "Payments"),
    ("team-billing", "team", "product-engineering", "Billing"),
    ("team-storefront", "team", "product-engineering", "Storefront"),
    ("team-search", "team", "product-engineering", "Search"),
    ("team-logistics", "team", "product-engineering", "Logistics"),
    ("team-identity", "team", "platform-engineering", "Identity"),
    ("team-data", "team", "platform-engineering", "Data"),
    ("team-sre", "team", "platform-engineering", "Site Reliability"),
    ("team-platform", "team", "platform-engineering", "Developer Platform"),
)

THREE_API_SYSTEMS = frozenset(
    {"payment-gateway", "storefront", "accounts", "auth", "fulfilment", "data-platform"}
)
CLASSIFICATIONS = ("internal", "confidential", "restricted")

FIRST = (
    "alice",
    "bruno",
    "chloe",
    "diego",
    "emma",
    "farid",
    "grace",
    "hugo",
    "ines",
    "jules",
    "karim",
    "lea",
    "marco",
    "nadia",
    "oscar",
    "priya",
    "quentin",
    "rosa",
    "samir",
    "tess",
)
LAST = (
    "martin",
    "bernard",
    "dubois",
    "moreau",
    "laurent",
    "simon",
    "michel",
    "garcia",
    "roux",
    "fontaine",
    "chevalier",
    "nguyen",
    "rossi",
    "schmidt",
    "kowalski",
    "okafor",
)

COMPONENT_KINDS = ("service", "service", "service", "website", "library")
RESOURCE_KINDS = (
    ("database", "postgres", "rds"),
    ("bucket", "s3", "s3"),
    ("queue", "sqs", "sqs"),
    ("cache", "redis", "elasticache"),
)

# Systems whose components call APIs of other systems: the graph AIOps correlates over.
CALLS = {
    "storefront": ("product-search", "payment-gateway", "accounts", "fulfilment"),
    "payment-gateway": ("auth", "billing"),
    "billing": ("accounts",),
    "fulfilment": ("shipping", "accounts"),
    "product-search": ("data-platform",),
    "analytics": ("data-platform",),
    "accounts": ("auth",),
    "developer-portal": ("auth", "observability"),
    "shipping": ("observability",),
}


@dataclass
class Person:
    name: str
    display_name: str
    email: str
    team: str


@dataclass
class Resource:
    name: str
    type: str
    engine: str
    service: str
    system: str
    owner: str
    provider: str
    region: str
    cloud_id: str
    classification: str


@dataclass
class Api:
    name: str
    type: str
    system: str
    owner: str
    description: str


@dataclass
class Component:
    name: str
    type: str
    system: str
    owner: str
    language: str
    tier: int
    description: str
    provides: list[str] = field(default_factory=list)
    consumes: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)


@dataclass
class Organisation:
    seed: int
    people: list[Person]
    components: list[Component]
    apis: list[Api]
    resources: list[Resource]

    @property
    def groups(self) -> tuple[tuple[str, str, str | None, str], ...]:
        return GROUPS

    @property
    def domains(self) -> dict[str, tuple[str, tuple[str, str]]]:
        return DOMAINS

    @property
    def systems(self) -> dict[str, tuple[str, tuple[str, ...], str, str]]:
        return SYSTEMS


def _provider(region: str) -> str:
    return "gcp" if region.startswith("europe-") else "aws"


def build_organisation(seed: int = 42) -> Organisation:
    """The same organisation for the same seed, down to every name and dependency."""
    rng = random.Random(seed)
    teams = [name for name, kind, _, _ in GROUPS if kind == "team"]
    people: list[Person] = []
    used: set[str] = set()
    while len(people) < 40:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first}.{last}"
        if name in used:
            continue
        used.add(name)
        team = teams[len(people) % len(teams)]
        people.append(Person(name, f"{first.title()} {last.title()}", f"{name}@acme.example", team))

    components: list[Component] = []
    apis: list[Api] = []
    resources: list[Resource] = []
    for system, (team, words, language, region) in SYSTEMS.items():
        provider = _provider(region)
        system_components = []
        for index, word in enumerate(words):
            kind = (
                "website"
                if word.endswith("web")
                or word in {"portal", "docs-site", "dashboards", "status-page"}
                else COMPONENT_KINDS[index]
            )
            if kind == "library" and word.endswith(("web", "portal")):
                kind = "service"
            component = Component(
                name=word,
                type=kind,
                system=system,
                owner=team,
                language=language if kind != "website" else "typescript",
                tier=1 + (index % 3),
                description=f"{word.replace('-', ' ').capitalize()} of the {system} system",
            )
            system_components.append(component)
        # Two or three APIs per system, provided by its first services.
        api_count = (
            3
            if system
            in {"payment-gateway", "storefront", "accounts", "auth", "fulfilment", "data-platform"}
            else 2
        )
        for index in range(api_count):
            provider_component = system_components[index]
            api_type = ("openapi", "grpc", "asyncapi")[index]
            api_name = (
                f"{provider_component.name}-api"
                if not provider_component.name.endswith("api")
                else f"{provider_component.name}-v2"
            )
            if api_type == "asyncapi":
                api_name = f"{system}-events"
            api = Api(
                api_name,
                api_type,
                system,
                team,
                f"{api_type} interface of {provider_component.name}",
            )
            apis.append(api)
            provider_component.provides.append(api_name)
        # Four resources per system plus shared ones below.
        for index, (rtype, engine, service) in enumerate(RESOURCE_KINDS):
            owner_component = system_components[index % 3]
            rname = f"{system}-{engine}" if index else f"{owner_component.name}-db"
            region_code = region
            if provider == "aws":
                cloud_id = f"arn:aws:{service}:{region}:1234567890{rng.randint(10, 99)}:{rname}"
            else:
                api_host = "sqladmin" if rtype == "database" else "storage"
                cloud_id = f"//{api_host}.googleapis.com/projects/acme-data/{rname}"
            sensitive = rtype in {"database", "bucket"}
            classification = rng.choice(CLASSIFICATIONS) if sensitive else "internal"
            resources.append(
                Resource(
                    rname,
                    rtype,
                    engine,
                    service,
                    system,
                    team,
                    provider,
                    region_code,
                    cloud_id,
                    classification,
                )
            )
            owner_component.depends_on.append(f"resource:{rname}")
        components.extend(system_components)

    # Cross-system calls: each calling system's first components consume the callee's API.
    first_api: dict[str, str] = {}
    for api in apis:
        first_api.setdefault(api.system, api.name)
    by_system: dict[str, list[Component]] = {}
    for component in components:
        by_system.setdefault(component.system, []).append(component)
    for caller, callees in CALLS.items():
        for callee in callees:
            consumer = rng.choice([c for c in by_system[caller] if c.type == "service"])
            consumer.consumes.append(first_api[callee])
    # Within a system, services call the system's first service.
    for members in by_system.values():
        head = members[0]
        for component in members[1:]:
            if component.type in {"service", "website"} and rng.random() < 0.7:
                component.depends_on.append(f"component:{head.name}")

    # Shared platform resources to reach 50.
    shared = [
        ("shared-kafka", "queue", "kafka", "msk", "team-sre", "eu-west-3"),
        ("shared-artifacts", "bucket", "s3", "s3", "team-platform", "eu-west-3"),
    ]
    for rname, rtype, engine, service, team, region in shared:
        resources.append(
            Resource(
                rname,
                rtype,
                engine,
                service,
                "observability" if team == "team-sre" else "developer-portal",
                team,
                "aws",
                region,
                f"arn:aws:{service}:{region}:123456789012:{rname}",
                "internal",
            )
        )
    for component in components:
        if (
            component.system in {"analytics", "data-platform", "observability"}
            and component.type == "service"
        ):
            component.depends_on.append("resource:shared-kafka")

    # Deliberate mistakes, so the demo shows what sentier reports:
    # an owner that does not exist, and a dependency on something nobody declared.
    components[-1].owner = "team-ghost"
    components[5].depends_on.append("resource:legacy-mainframe-db")
    return Organisation(seed, people, components, apis, resources)
