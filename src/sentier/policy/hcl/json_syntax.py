"""Terraform's JSON syntax (``*.tf.json``, ``*.tfvars.json``) read into the same nodes as HCL.

Generated configurations (CDK for Terraform, scripts) are written as JSON: the top-level keys
are block types (``resource``, ``data``, ``module``, ``variable``, ``locals``, ``output``,
``provider``), labels are nested keys, and every string is a template (``"${var.x}"``). Each
value keeps the line it is written on. The standard ``json`` module gives no positions, so
containers are walked here and scalars decoded by ``json`` itself; templates are parsed by
the HCL parser, so both syntaxes evaluate alike. Without provider schemas a nested object
cannot be told from a nested block; it is read as an object value, which rules address the
same way (``versioning.enabled``), except ``dynamic`` blocks, which are recognised by name.
Objects and arrays nest at most ``MAX_JSON_NESTING`` deep: deeper is a located syntax error.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from typing import Any

from sentier.policy.hcl.syntax import (
    MAX_NESTING,
    Attribute,
    Block,
    Body,
    Expr,
    ParsedFile,
    parse_bytes,
)
from sentier.policy.model import ParseProblem

MAX_JSON_NESTING = MAX_NESTING // 2  # each level is read, then converted, by recursion

# A located JSON value: ("obj", line, [(key, key_line, node)]), ("arr", line, [node]),
# ("val", line, scalar).
Node = tuple[Any, ...]
_WS = re.compile(r"[ \t\n\r]*")
LABELS = {"resource": 2, "data": 2, "module": 1, "variable": 1, "output": 1, "provider": 1}
COMMENT = "//"


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [i for i, c in enumerate(text) if c == "\n"]
        self.decoder = json.JSONDecoder()
        self.depth = 0

    def line(self, pos: int) -> int:
        return bisect_left(self.newlines, pos) + 1

    def skip(self, pos: int) -> int:
        match = _WS.match(self.text, pos)
        return match.end() if match else pos

    def fail(self, message: str, pos: int) -> json.JSONDecodeError:
        return json.JSONDecodeError(message, self.text, min(pos, len(self.text)))

    def value(self, pos: int) -> tuple[Node, int]:
        pos = self.skip(pos)
        if pos >= len(self.text):
            raise self.fail("Expecting value", pos)
        char = self.text[pos]
        line = self.line(pos)
        if char in "{[":
            if self.depth >= MAX_JSON_NESTING:
                raise self.fail(f"nested more than {MAX_JSON_NESTING} levels deep", pos)
            self.depth += 1
            try:
                if char == "{":
                    return self.members(pos + 1, line)
                return self.elements(pos + 1, line)
            finally:
                self.depth -= 1
        scalar, end = self.decoder.raw_decode(self.text, pos)
        return ("val", line, scalar), end

    def members(self, pos: int, line: int) -> tuple[Node, int]:
        items: list[tuple[str, int, Node]] = []
        pos = self.skip(pos)
        if self.text.startswith("}", pos):
            return ("obj", line, items), pos + 1
        while True:
            pos = self.skip(pos)
            if not self.text.startswith('"', pos):
                raise self.fail("Expecting property name enclosed in double quotes", pos)
            key_line = self.line(pos)
            key, pos = self.decoder.raw_decode(self.text, pos)
            pos = self.skip(pos)
            if not self.text.startswith(":", pos):
                raise self.fail("Expecting ':' delimiter", pos)
            node, pos = self.value(pos + 1)
            items.append((str(key), key_line, node))
            pos = self.skip(pos)
            if self.text.startswith(",", pos):
                pos += 1
                continue
            if self.text.startswith("}", pos):
                return ("obj", line, items), pos + 1
            raise self.fail("Expecting ',' delimiter", pos)

    def elements(self, pos: int, line: int) -> tuple[Node, int]:
        items: list[Node] = []
        pos = self.skip(pos)
        if self.text.startswith("]", pos):
            return ("arr", line, items), pos + 1
        while True:
            node, pos = self.value(pos)
            items.append(node)
            pos = self.skip(pos)
            if self.text.startswith(",", pos):
                pos += 1
                continue
            if self.text.startswith("]", pos):
                return ("arr", line, items), pos + 1
            raise self.fail("Expecting ',' delimiter", pos)


def _relined(expr: Any, line: int) -> Any:
    """An expression parsed from a one-line snippet, moved to the JSON string's line."""
    if isinstance(expr, tuple):
        if expr and isinstance(expr[0], str) and len(expr) > 1 and isinstance(expr[1], int):
            return (expr[0], line, *(_relined(e, line) for e in expr[2:]))
        if len(expr) == 3 and isinstance(expr[0], tuple) and isinstance(expr[2], int):
            return (_relined(expr[0], line), _relined(expr[1], line), line)
        return tuple(_relined(e, line) for e in expr)
    if isinstance(expr, list):
        return [_relined(e, line) for e in expr]
    return expr


def _template(text: str, line: int, problems: list[ParseProblem], path: str) -> Expr:
    if "${" not in text and "%{" not in text:
        return ("lit", line, text)
    quoted = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    parsed = parse_bytes(f'v = "{quoted}"\n'.encode(), path)
    attribute = parsed.body.attributes.get("v")
    if parsed.problems or attribute is None:
        problems.append(ParseProblem(path, line, f"invalid template expression {text[:40]!r}"))
        return ("unknown", line, "invalid template")
    return _relined(attribute.expr, line)  # type: ignore[no-any-return]


class _Converter:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[ParseProblem] = []

    def expr(self, node: Node) -> Expr:
        kind, line, value = node
        if kind == "val":
            if isinstance(value, str):
                return _template(value, line, self.problems, self.path)
            return ("lit", line, value)
        if kind == "arr":
            return ("tuple", line, [self.expr(item) for item in value])
        return (
            "object",
            line,
            [
                (("lit", k_line, key), self.expr(item), k_line)
                for key, k_line, item in value
                if key != COMMENT
            ],
        )

    def body(self, node: Node) -> Body:
        body = Body()
        if node[0] != "obj":
            self.problems.append(ParseProblem(self.path, node[1], "a block body must be an object"))
            return body
        for key, line, item in node[2]:
            if key == COMMENT:
                continue
            if key == "dynamic" and item[0] == "obj":
                for name, name_line, spec in item[2]:
                    for instance in _instances(spec):
                        body.blocks.append(self.dynamic(name, name_line, instance))
                continue
            body.attributes[key] = Attribute(key, self.expr(item), line, _end_line(item))
        return body

    def dynamic(self, name: str, line: int, spec: Node) -> Block:
        inner = Body()
        if spec[0] == "obj":
            for key, key_line, item in spec[2]:
                if key == "content":
                    inner.blocks.append(
                        Block("content", [], self.body(item), key_line, _end_line(item))
                    )
                elif key != COMMENT:
                    inner.attributes[key] = Attribute(
                        key, self.expr(item), key_line, _end_line(item)
                    )
        return Block("dynamic", [name], inner, line, _end_line(spec))

    def blocks(
        self, kind: str, node: Node, labels: list[str], depth: int, line: int
    ) -> list[Block]:
        """``{"resource": {"type": {"name": {...}}}}``: one level per label, then bodies."""
        if depth == 0:
            return [
                Block(kind, labels, self.body(instance), line, _end_line(instance))
                for instance in _instances(node)
            ]
        if node[0] != "obj":
            self.problems.append(ParseProblem(self.path, node[1], f"{kind} labels must be keys"))
            return []
        out: list[Block] = []
        for key, key_line, item in node[2]:
            if key != COMMENT:
                out.extend(self.blocks(kind, item, [*labels, key], depth - 1, key_line))
        return out

    def file(self, root: Node) -> Body:
        body = Body()
        if root[0] != "obj":
            self.problems.append(ParseProblem(self.path, root[1], "the file must hold an object"))
            return body
        for kind, line, node in root[2]:
            if kind == COMMENT:
                continue
            if kind == "locals":
                for instance in _instances(node):
                    body.blocks.append(
                        Block("locals", [], self.body(instance), line, _end_line(instance))
                    )
            elif kind in LABELS:
                body.blocks.extend(self.blocks(kind, node, [], LABELS[kind], line))
            elif kind == "terraform":
                for instance in _instances(node):
                    body.blocks.append(
                        Block(kind, [], self.body(instance), line, _end_line(instance))
                    )
        return body


def _instances(node: Node) -> list[Node]:
    """A block given once (an object) or several times (an array of objects)."""
    return [n for n in node[2] if n[0] == "obj"] if node[0] == "arr" else [node]


def _end_line(node: Node) -> int:
    kind, line, value = node
    if kind == "obj" and value:
        return _end_line(value[-1][2])
    if kind == "arr" and value:
        return _end_line(value[-1])
    return int(line)


def parse_json_file(path: str, data: bytes | None = None) -> ParsedFile:
    """A ``.tf.json`` (configuration) or ``.tfvars.json`` (variable values) file."""
    if data is None:
        with open(path, "rb") as handle:
            data = handle.read()
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    converter = _Converter(path)
    reader = _Reader(text)
    try:
        root, end = reader.value(0)
        if reader.skip(end) != len(text):
            raise reader.fail("Extra data", reader.skip(end))
    except json.JSONDecodeError as error:
        problem = ParseProblem(path, error.lineno, f"JSON syntax error: {error.msg}", error.colno)
        return ParsedFile(path, Body(), [problem], lines)
    variables_only = path.endswith(".tfvars.json")
    body = converter.body(root) if variables_only else converter.file(root)
    return ParsedFile(path, body, converter.problems, lines)
