"""The software catalog: Backstage descriptors in, entities and relations out, owners for all.

Public names of the catalog domain; other packages import from here only.
"""

from sentier.catalog import pushed
from sentier.catalog.boundary import OutsideRoot, is_within, root_of
from sentier.catalog.discovery import walk_descriptors
from sentier.catalog.ingest import IngestReport, ingest_source, remove_source
from sentier.catalog.problems import CatalogError, Problem
from sentier.catalog.pushed import PushRefused
from sentier.catalog.queries import (
    Dangling,
    EntityFilter,
    Graph,
    Page,
    RelationRow,
    as_backstage,
    counts_by_kind,
    dangling_relations,
    dependency_edges,
    descendant_groups,
    entity_graph,
    facet_counts,
    facets,
    find_entity,
    fulltext_indexed,
    get_entity,
    list_entities,
    owned_by_group,
    relations_for,
    relations_of,
    resolve_ref,
    search,
    system_graph,
)
from sentier.catalog.reader import ParsedEntity, ParsedFile, read_descriptor
from sentier.catalog.refs import DEFAULT_NAMESPACE, EntityRef, RefError, parse_ref
from sentier.catalog.relations import RELATION_TYPES
from sentier.catalog.sources import SourceOverlap, source_for
from sentier.catalog.validate import validate_document

__all__ = [
    "DEFAULT_NAMESPACE",
    "RELATION_TYPES",
    "CatalogError",
    "Dangling",
    "EntityFilter",
    "EntityRef",
    "Graph",
    "IngestReport",
    "OutsideRoot",
    "Page",
    "ParsedEntity",
    "ParsedFile",
    "Problem",
    "PushRefused",
    "RefError",
    "RelationRow",
    "SourceOverlap",
    "as_backstage",
    "counts_by_kind",
    "dangling_relations",
    "dependency_edges",
    "descendant_groups",
    "entity_graph",
    "facet_counts",
    "facets",
    "find_entity",
    "fulltext_indexed",
    "get_entity",
    "ingest_source",
    "is_within",
    "list_entities",
    "owned_by_group",
    "parse_ref",
    "pushed",
    "read_descriptor",
    "relations_for",
    "relations_of",
    "remove_source",
    "resolve_ref",
    "root_of",
    "search",
    "source_for",
    "system_graph",
    "validate_document",
    "walk_descriptors",
]
