"""Dependency graphs drawn as SVG on the server: no JavaScript, no external library.

A small layered layout (longest-path layers, then a few barycentre sweeps to reduce crossings)
is enough for the graphs a portal page shows (tens of nodes). Written here because the usual
tools need a Graphviz binary or a browser-side library, and the portal must work offline and
without JavaScript.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 200, 46, 90, 22, 16
# Edges drawn left-to-right follow dependency direction; the reverse types are flipped.
FORWARD = {
    "dependsOn",
    "consumesApi",
    "partOf",
    "ownedBy",
    "memberOf",
    "childOf",
    "providesApi",
    "hasSkill",
    "hasPlugin",
}
REVERSE = {
    "dependencyOf": "dependsOn",
    "apiConsumedBy": "consumesApi",
    "hasPart": "partOf",
    "ownerOf": "ownedBy",
    "hasMember": "memberOf",
    "parentOf": "childOf",
    "apiProvidedBy": "providesApi",
    "skillOf": "hasSkill",
    "pluginOf": "hasPlugin",
}


def _edges(graph: dict[str, Any]) -> list[tuple[str, str, str]]:
    seen: set[tuple[str, str, str]] = set()
    for edge in graph["edges"]:
        source, kind, target = edge["source"], edge["type"], edge["target"]
        if kind in REVERSE:
            source, kind, target = target, REVERSE[kind], source
        if source != target:
            seen.add((source, kind, target))
    return sorted(seen)


def _layers(nodes: list[str], edges: list[tuple[str, str, str]]) -> dict[str, int]:
    """Longest-path layering on the graph with cycles broken by visit order."""
    outgoing: dict[str, list[str]] = defaultdict(list)
    for source, _, target in edges:
        outgoing[source].append(target)
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(node: str) -> int:
        if node in layer:
            return layer[node]
        if node in visiting:
            return 0
        visiting.add(node)
        value = 1 + max((depth(t) for t in outgoing[node]), default=-1)
        visiting.discard(node)
        layer[node] = value
        return value

    for node in nodes:
        depth(node)
    top = max(layer.values(), default=0)
    return {node: top - value for node, value in layer.items()}


def render(
    graph: dict[str, Any], *, focus: str | None = None, link_prefix: str = "/catalog"
) -> str:
    """An accessible SVG of ``graph`` (``{"nodes": [...], "edges": [...]}``)."""
    nodes = {node["ref"]: node for node in graph["nodes"]}
    if not nodes:
        return ""
    edges = [e for e in _edges(graph) if e[0] in nodes and e[2] in nodes]
    layer_of = _layers(sorted(nodes), edges)
    columns: dict[int, list[str]] = defaultdict(list)
    for ref in sorted(nodes):
        columns[layer_of[ref]].append(ref)
    neighbours: dict[str, list[str]] = defaultdict(list)
    for source, _, target in edges:
        neighbours[source].append(target)
        neighbours[target].append(source)
    for _ in range(4):  # barycentre sweeps
        position = {ref: i for column in columns.values() for i, ref in enumerate(column)}
        for index in sorted(columns):
            column = columns[index]
            column.sort(
                key=lambda r: (
                    sum(position[n] for n in neighbours[r]) / len(neighbours[r])
                    if neighbours[r]
                    else position[r]
                )
            )
    height_nodes = max(len(c) for c in columns.values())
    width = PAD * 2 + len(columns) * NODE_W + (len(columns) - 1) * GAP_X
    height = PAD * 2 + height_nodes * NODE_H + (height_nodes - 1) * GAP_Y
    place: dict[str, tuple[float, float]] = {}
    for index, column in columns.items():
        offset = (height - (len(column) * NODE_H + (len(column) - 1) * GAP_Y)) / 2
        for row, ref in enumerate(column):
            place[ref] = (PAD + index * (NODE_W + GAP_X), offset + row * (NODE_H + GAP_Y))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="graph-title">',
        f'<title id="graph-title">Relations graph of {escape(focus or "the catalog")}: '
        f"{len(nodes)} entities, {len(edges)} relations</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#94a3b8"/></marker></defs>',
    ]
    for source, kind, target in edges:
        x1, y1 = place[source][0] + NODE_W, place[source][1] + NODE_H / 2
        x2, y2 = place[target][0], place[target][1] + NODE_H / 2
        if x2 <= x1:  # same or earlier column: loop around
            x1, x2 = place[source][0] + NODE_W / 2, place[target][0] + NODE_W / 2
            path = (
                f"M {x1} {y1 + NODE_H / 2} C {x1} {y1 + 60}, {x2} {y2 + 60}, {x2} {y2 + NODE_H / 2}"
            )
        else:
            mid = (x1 + x2) / 2
            path = f"M {x1} {y1} C {mid} {y1}, {mid} {y2}, {x2 - 2} {y2}"
        parts.append(
            f'<path class="edge edge-{escape(kind)}" d="{path}" marker-end="url(#arrow)">'
            f"<title>{escape(source)} {escape(kind)} {escape(target)}</title></path>"
        )
    for ref, (x, y) in place.items():
        node = nodes[ref]
        kind = str(node.get("kind", "")).lower()
        # Colours come from the stylesheet by kind class: the CSP forbids inline styles.
        classes = ["node", f"k-{escape(kind)}"]
        if ref == focus:
            classes.append("focus")
        if not node.get("exists", True):
            classes.append("missing")
        if node.get("external"):
            classes.append("external")
        label = str(node.get("title") or ref.split("/", 1)[-1])
        short = label if len(label) <= 24 else label[:23] + "…"
        kind_label = kind if node.get("exists", True) else f"{kind} · missing"
        inner = (
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
            f'<text x="{x + 12}" y="{y + 19}" class="kind">{escape(kind_label)}</text>'
            f'<text x="{x + 12}" y="{y + 36}" class="label">{escape(short)}</text>'
        )
        if node.get("exists", True):
            kind_part, rest = ref.split(":", 1)
            namespace, name = rest.split("/", 1)
            href = f"{link_prefix}/{escape(kind_part)}/{escape(namespace)}/{escape(name)}"
            inner = f'<a href="{href}" aria-label="{escape(ref)}">{inner}</a>'
        parts.append(f'<g class="{" ".join(classes)}"><title>{escape(ref)}</title>{inner}</g>')
    parts.append("</svg>")
    return "".join(parts)
