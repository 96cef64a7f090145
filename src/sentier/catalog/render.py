"""Text renderings of catalog graphs (DOT for Graphviz)."""

from __future__ import annotations

from sentier.catalog.queries import Graph

_SHAPES = {
    "system": "box3d",
    "component": "box",
    "api": "component",
    "resource": "cylinder",
    "group": "house",
    "user": "ellipse",
    "domain": "folder",
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_to_dot(graph: Graph, *, title: str = "catalog") -> str:
    """A Graphviz digraph; dangling targets are dashed red, external ones grey."""
    lines = [f"digraph {_quote(title)} {{", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for ref, data in sorted(graph.nodes.items()):
        attrs = [
            f"label={_quote(ref)}",
            f"shape={_SHAPES.get(str(data.get('kind', '')).lower(), 'box')}",
        ]
        if not data.get("exists", True):
            attrs.append('style=dashed color="#c0392b"')
        elif data.get("external"):
            attrs.append('color="#888888" fontcolor="#666666"')
        lines.append(f"  {_quote(ref)} [{' '.join(attrs)}];")
    for source, rel_type, target in graph.edges:
        lines.append(f"  {_quote(source)} -> {_quote(target)} [label={_quote(rel_type)}];")
    lines.append("}")
    return "\n".join(lines)
