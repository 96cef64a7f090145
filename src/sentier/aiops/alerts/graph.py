"""The dependency graph alerts are correlated over, and how alert labels find entities.

Built from the catalog's public functions once per ingestion, then held in memory: the
correlator asks for distances thousands of times a second.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

ENTITY_KINDS = ("component", "resource", "api", "system")


def _rank(ref: str) -> int:
    kind = ref.split(":", 1)[0]
    return ENTITY_KINDS.index(kind) if kind in ENTITY_KINDS else len(ENTITY_KINDS)


@dataclass
class DependencyGraph:
    """``depends_on[a]`` are the entities ``a`` needs; ``dependants[b]`` those needing ``b``.

    API entities are kept as nodes (a consumer depends on the API, the API on its provider),
    so a path through an API counts one hop more than a direct dependency.
    """

    depends_on: dict[str, set[str]] = field(default_factory=dict)
    dependants: dict[str, set[str]] = field(default_factory=dict)
    owners: dict[str, str | None] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # lower-cased label value -> entity ref
    _distance_cache: dict[tuple[str, str, int], int | None] = field(default_factory=dict)
    _upstream_cache: dict[str, frozenset[str]] = field(default_factory=dict)
    _reach_cache: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)
    _needs_cache: dict[str, frozenset[str]] = field(default_factory=dict)
    _directed_cache: dict[tuple[str, str, int], int | None] = field(default_factory=dict)
    _counts_cache: dict[tuple[str, int], dict[int, int]] = field(default_factory=dict)

    @classmethod
    def from_edges(
        cls, edges: Iterable[tuple[str, str]], owners: dict[str, str | None] | None = None
    ) -> DependencyGraph:
        graph = cls(owners=dict(owners or {}))
        for source, target in edges:
            graph.depends_on.setdefault(source, set()).add(target)
            graph.dependants.setdefault(target, set()).add(source)
        for ref in [*graph.depends_on, *graph.dependants, *graph.owners]:
            graph.add_key(ref)
        return graph

    def add_key(self, ref: str, *aliases: str) -> None:
        """Let ``ref``, its name and any alias (lower-cased) find the entity.

        Where two entities share a name (a component and its system, say), the one that
        runs wins: component, then resource, then API, then system.
        """
        self.keys[ref.lower()] = ref
        name = ref.split("/", 1)[-1].lower()
        for key in (name, *(a.lower() for a in aliases if a)):
            current = self.keys.get(key)
            if current is None or _rank(ref) < _rank(current):
                self.keys[key] = ref

    def resolve(self, hint: str | None) -> str | None:
        """The entity an alert names, by reference, name or alias; None when unknown."""
        if not hint:
            return None
        return self.keys.get(hint.strip().lower())

    def neighbours(self, ref: str) -> set[str]:
        return self.depends_on.get(ref, set()) | self.dependants.get(ref, set())

    def distance(self, a: str, b: str, limit: int = 3) -> int | None:
        """How closely two entities are related through dependencies, in entity hops.

        Related means one needs the other, directly or through at most ``limit`` entities
        (an API in between is crossed for free: consumer -> API -> provider is one hop), or
        both need the same thing directly (siblings, two hops). Two services that merely sit
        near each other in the graph without such a path are not related.
        """
        if a == b:
            return 0
        key = (a, b, limit) if a < b else (b, a, limit)
        if key in self._distance_cache:
            return self._distance_cache[key]
        found = self._directed(a, b, limit)
        backwards = self._directed(b, a, limit)
        if backwards is not None and (found is None or backwards < found):
            found = backwards
        if found is None or found > 2:
            shared = self._direct_needs(a) & self._direct_needs(b)
            if shared:
                found = 2
        if len(self._distance_cache) > 200_000:
            self._distance_cache.clear()
        self._distance_cache[key] = found
        return found

    def needs(self, a: str, b: str, limit: int = 3) -> int | None:
        """Entity hops from ``a`` down its dependencies to ``b`` (``a`` needs ``b``), or None."""
        if a == b:
            return 0
        key = (a, b, limit)
        if key in self._directed_cache:
            return self._directed_cache[key]
        found = self._directed(a, b, limit)
        if len(self._directed_cache) > 200_000:
            self._directed_cache.clear()
        self._directed_cache[key] = found
        return found

    def direct_needs(self, ref: str) -> frozenset[str]:
        """What ``ref`` uses directly, an API standing for its provider."""
        return self._direct_needs(ref)

    def dependants_within(self, ref: str, reach: int) -> dict[str, int]:
        """Entities needing ``ref`` within ``reach`` entity hops, with their distance (an API in
        between is crossed for free and is not itself listed: it never alerts)."""
        key = (ref, reach)
        cached = self._reach_cache.get(key)
        if cached is not None:
            return cached
        found: dict[str, int] = {}
        frontier = [ref]
        seen = {ref}
        for hops in range(1, reach + 1):
            following = []
            for node in frontier:
                for parent in self._direct_users(node):
                    if parent not in seen:
                        seen.add(parent)
                        found[parent] = hops
                        following.append(parent)
            if not following:
                break
            frontier = following
        if len(self._reach_cache) > 50_000:
            self._reach_cache.clear()
        self._reach_cache[key] = found
        return found

    def hop_counts(self, ref: str, reach: int) -> dict[int, int]:
        """How many entities need ``ref`` at each distance up to ``reach`` (cached)."""
        key = (ref, reach)
        cached = self._counts_cache.get(key)
        if cached is None:
            cached = {}
            for hops in self.dependants_within(ref, reach).values():
                cached[hops] = cached.get(hops, 0) + 1
            if len(self._counts_cache) > 50_000:
                self._counts_cache.clear()
            self._counts_cache[key] = cached
        return cached

    def needs_within(self, ref: str, reach: int) -> dict[str, int]:
        """Entities ``ref`` needs within ``reach`` entity hops, with their distance (APIs are
        crossed for free and not listed)."""
        key = (ref, -reach)  # shares the cache with dependants_within, apart by the sign
        cached = self._reach_cache.get(key)
        if cached is not None:
            return cached
        found: dict[str, int] = {}
        frontier = [ref]
        for hops in range(1, reach + 1):
            following = []
            for node in frontier:
                for needed in sorted(self._direct_needs(node)):
                    if needed != ref and needed not in found:
                        found[needed] = hops
                        following.append(needed)
            if not following:
                break
            frontier = following
        if len(self._reach_cache) > 50_000:
            self._reach_cache.clear()
        self._reach_cache[key] = found
        return found

    def _direct_users(self, ref: str) -> set[str]:
        users: set[str] = set()
        for parent in self.dependants.get(ref, ()):
            if parent.startswith("api:"):
                users.update(self.dependants.get(parent, ()))
            else:
                users.add(parent)
        users.discard(ref)
        return users

    def _direct_needs(self, ref: str) -> frozenset[str]:
        cached = self._needs_cache.get(ref)
        if cached is not None:
            return cached
        needs: set[str] = set()
        for target in self.depends_on.get(ref, ()):
            if target.startswith("api:"):
                needs.update(self.depends_on.get(target, ()))
            else:
                needs.add(target)
        frozen = frozenset(needs)
        self._needs_cache[ref] = frozen
        return frozen

    def _directed(self, source: str, target: str, limit: int) -> int | None:
        """Entity hops from ``source`` down its dependencies to ``target`` (APIs are free)."""
        frontier = [source]
        seen = {source}
        for hops in range(1, limit + 1):
            following = []
            for node in frontier:
                for needed in self._direct_needs(node):
                    if needed == target:
                        return hops
                    if needed not in seen:
                        seen.add(needed)
                        following.append(needed)
            if not following:
                return None
            frontier = following
        return None

    def upstream_of(self, ref: str) -> frozenset[str]:
        """Everything that depends on ``ref``, directly or not (who suffers when it fails)."""
        cached = self._upstream_cache.get(ref)
        if cached is not None:
            return cached
        seen: set[str] = set()
        queue = deque([ref])
        while queue:
            node = queue.popleft()
            for parent in self.dependants.get(node, ()):
                if parent not in seen and parent != ref:
                    seen.add(parent)
                    queue.append(parent)
        result = frozenset(seen)
        self._upstream_cache[ref] = result
        return result

    def depends_transitively(self, a: str, b: str) -> bool:
        """True when ``a`` needs ``b``, directly or through others."""
        return a in self.upstream_of(b)

    def subgraph(self, refs: Iterable[str]) -> list[tuple[str, str]]:
        """Dependency edges among ``refs`` (and through one API in between)."""
        members = set(refs)
        edges = set()
        for source in members:
            for target in self.depends_on.get(source, ()):
                if target in members:
                    edges.add((source, target))
                elif target.startswith("api:"):
                    for provider in self.depends_on.get(target, ()):
                        if provider in members:
                            edges.add((source, target))
                            edges.add((target, provider))
        return sorted(edges)


def graph_from_catalog(session: Session) -> DependencyGraph:
    """The catalog's dependency graph with every entity's names and Kubernetes id as keys."""
    from sentier.catalog import EntityFilter, dependency_edges, list_entities

    edges = dependency_edges(session)
    graph = DependencyGraph.from_edges(edges)
    after: str | None = None
    while True:
        page = list_entities(
            session, EntityFilter(kinds=list(ENTITY_KINDS)), limit=500, after=after
        )
        for entity in page.items:
            annotations = (entity.body.get("metadata") or {}).get("annotations") or {}
            graph.owners[entity.ref] = entity.owner_ref
            graph.add_key(
                entity.ref,
                str(annotations.get("backstage.io/kubernetes-id") or ""),
                entity.title or "",
            )
        if not page.next_cursor:
            break
        after = page.next_cursor
    return graph
