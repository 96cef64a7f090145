"""HCL syntax trees: tree-sitter's concrete tree turned into small, evaluable nodes.

tree-sitter (with the ``tree-sitter-hcl`` grammar, both installed as binary wheels) parses in
C, keeps exact rows for every token and recovers from errors, so a broken block costs that
block only. python-hcl2 was the alternative: pure Python, several times slower, and it drops
the line of every attribute, which a scanner pointing at lines cannot afford.

Expressions become tuples ``(kind, line, ...)``; bodies become ``Attribute``/``Block`` objects.

Converting is recursive, so nesting is bounded: an expression or block nested deeper than
``MAX_NESTING`` (counted in tree-sitter nodes, two or three per bracket; real configurations
stay far below) is reported at its line and read as unknown, and the rest of the file is
kept. tree-sitter itself parses any depth without recursing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sentier.policy.model import ParseProblem

Expr = tuple[Any, ...]

#: Syntax nodes nested within one another: about 64 brackets, or a chain of 96 operators.
MAX_NESTING = 200


@dataclass(slots=True)
class Attribute:
    name: str
    expr: Expr
    line: int
    end_line: int


@dataclass(slots=True)
class Block:
    type: str
    labels: list[str]
    body: Body
    line: int
    end_line: int


@dataclass(slots=True)
class Body:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)


@dataclass(slots=True)
class ParsedFile:
    path: str
    body: Body
    problems: list[ParseProblem]
    lines: list[str]


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_hcl

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_hcl.language()))


def parse_file(path: str, data: bytes | None = None) -> ParsedFile:
    """Parse one ``.tf``/``.tfvars`` file; syntax errors are reported, the rest is kept."""
    if data is None:
        with open(path, "rb") as handle:
            data = handle.read()
    return parse_bytes(data, path)


def parse_bytes(data: bytes, path: str = "<input>") -> ParsedFile:
    tree = _parser().parse(data)
    root = tree.root_node
    converter = _Converter(data, path)
    body = Body()
    lines = data.decode("utf-8", errors="replace").splitlines()
    for child in root.children:
        if child.type == "body":
            body = converter.body(child)
    problems = converter.problems
    if root.has_error:
        problems.extend(_syntax_errors(root, path, lines))
    return ParsedFile(path, body, problems, lines)


def _syntax_errors(root: Any, path: str, lines: list[str]) -> list[ParseProblem]:
    out: list[ParseProblem] = []
    stack = [root]
    while stack and len(out) < 5:
        node = stack.pop()
        if not node.has_error:
            continue
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            text = lines[row].strip() if row < len(lines) else ""
            if node.is_missing:
                message = f"syntax error: missing {node.type!r}"
            else:
                message = "syntax error: unexpected " + (repr(text[:40]) if text else "input")
            out.append(ParseProblem(path, row + 1, message, column + 1))
            continue
        stack.extend(reversed(node.children))
    out.sort(key=lambda p: (p.line, p.column))
    return out


_ESCAPES = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|\$\$\{|%%\{")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    if "\\" not in text and "$${" not in text and "%%{" not in text:
        return text

    def repl(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        if whole == "%%{":
            return "%{"
        code = match.group(1)
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE.get(code, code)

    return _ESCAPES.sub(repl, text)


_BINARY = {"+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "&&", "||"}


class _Converter:
    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.path = path
        self.problems: list[ParseProblem] = []
        self.dedent = 0  # columns a ``<<-`` heredoc being read strips from each line
        self.depth = 0  # nodes being converted within one another
        self.too_deep = False

    def _nested_too_deep(self, node: Any) -> Expr:
        line = node.start_point[0] + 1
        if not self.too_deep:  # once per file: the first place is the one to fix
            self.too_deep = True
            self.problems.append(
                ParseProblem(
                    self.path,
                    line,
                    f"nested more than {MAX_NESTING} syntax levels deep; "
                    "the expression is read as unknown",
                    node.start_point[1] + 1,
                )
            )
        return ("unknown", line, "nested too deep")

    def text(self, node: Any) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", errors="replace")

    # -- structure ------------------------------------------------------------------------

    def body(self, node: Any) -> Body:
        body = Body()
        for child in node.children:
            kind = child.type
            if kind == "attribute":
                if child.has_error:
                    continue
                name_node = child.children[0]
                expr_node = child.child_by_field_name("val") or child.children[-1]
                name = self.text(name_node)
                body.attributes[name] = Attribute(
                    name, self.expr(expr_node), child.start_point[0] + 1, child.end_point[0] + 1
                )
            elif kind == "block":
                block = self.block(child)
                if block is not None:
                    body.blocks.append(block)
        return body

    def block(self, node: Any) -> Block | None:
        if self.depth >= MAX_NESTING:
            self._nested_too_deep(node)
            return None
        self.depth += 1
        try:
            children = node.children
            if not children or children[0].type != "identifier":
                return None
            labels: list[str] = []
            inner = Body()
            for child in children[1:]:
                kind = child.type
                if kind == "string_lit":
                    labels.append(self.string_lit(child))
                elif kind == "identifier":
                    labels.append(self.text(child))
                elif kind == "body":
                    inner = self.body(child)
            return Block(
                self.text(children[0]),
                labels,
                inner,
                node.start_point[0] + 1,
                node.end_point[0] + 1,
            )
        finally:
            self.depth -= 1

    def string_lit(self, node: Any) -> str:
        parts = [
            self.text(c)
            for c in node.children
            if c.type not in ("quoted_template_start", "quoted_template_end")
        ]
        return _unescape("".join(parts)) if parts else self._between_quotes(node)

    def _between_quotes(self, node: Any) -> str:
        raw = self.text(node)
        return _unescape(raw[1:-1]) if len(raw) >= 2 else ""

    # -- expressions ----------------------------------------------------------------------

    def expr(self, node: Any) -> Expr:
        if self.depth >= MAX_NESTING:
            return self._nested_too_deep(node)
        self.depth += 1
        try:
            kind = node.type
            line = node.start_point[0] + 1
            if kind == "expression":
                if node.child_count == 1:  # most are: skip building the list of children
                    only = node.child(0)
                    if only.type not in ("(", ")", "comment"):
                        return self.expr(only)
                children = [c for c in node.children if c.type not in ("(", ")", "comment")]
                if not children:
                    return ("lit", line, None)
                result = self.expr(children[0])
                for post in children[1:]:
                    result = self.postfix(result, post)
                return result
            if kind == "literal_value":
                return self.literal(node.child(0), line)
            if kind == "collection_value":
                return self.expr(node.child(0))
            if kind == "tuple":
                items = [self.expr(c) for c in node.children if c.type == "expression"]
                return ("tuple", line, items)
            if kind == "object":
                elems = []
                for c in node.children:
                    if c.type != "object_elem":
                        continue
                    key_node = c.child_by_field_name("key")
                    val_node = c.child_by_field_name("val")
                    if key_node is None or val_node is None:
                        continue
                    elems.append(
                        (self.object_key(key_node), self.expr(val_node), c.start_point[0] + 1)
                    )
                return ("object", line, elems)
            if kind == "template_expr":
                return self.template(node.child(0), line)
            if kind == "variable_expr":
                return ("var", line, self.text(node.child(0)))
            if kind == "function_call":
                name = self.text(node.child(0))
                args: list[Expr] = []
                expand = False
                for c in node.children:
                    if c.type == "function_arguments":
                        for a in c.children:
                            if a.type == "expression":
                                args.append(self.expr(a))
                            elif a.type == "ellipsis":
                                expand = True
                return ("call", line, name, args, expand)
            if kind == "for_expr":
                return self.for_expr(node.child(0), line)
            if kind == "operation":
                return self.expr(node.child(0))
            if kind == "unary_operation":
                parts = [c for c in node.children if c.type not in ("(", ")", "comment")]
                return ("unop", line, self.text(parts[0]), self.sequence(parts[1:]))
            if kind == "binary_operation":
                parts = [c for c in node.children if c.type not in ("(", ")", "comment")]
                at = next((i for i, c in enumerate(parts) if c.type in _BINARY and i > 0), None)
                if at is None:
                    return ("unknown", line, "malformed operation")
                return (
                    "binop",
                    line,
                    parts[at].type,
                    self.sequence(parts[:at]),
                    self.sequence(parts[at + 1 :]),
                )
            if kind == "conditional":
                groups: list[list[Any]] = [[]]
                for c in node.children:
                    if c.type in ("?", ":"):
                        groups.append([])
                    elif c.type != "comment":
                        groups[-1].append(c)
                if len(groups) != 3:
                    return ("unknown", line, "malformed conditional")
                return (
                    "cond",
                    line,
                    self.sequence(groups[0]),
                    self.sequence(groups[1]),
                    self.sequence(groups[2]),
                )
            if kind in ("string_lit", "numeric_lit", "bool_lit", "null_lit"):
                return self.literal(node, line)
            if kind in ("quoted_template", "heredoc_template"):
                return self.template(node, line)
            if kind == "ERROR":
                return ("unknown", line, "syntax error")
            return ("unknown", line, f"unsupported expression {kind}")
        finally:
            self.depth -= 1

    def for_expr(self, node: Any, line: int) -> Expr:
        key_var: str | None = None
        value_var = "_"
        collection: Expr = ("lit", line, [])
        exprs: list[Expr] = []
        cond: Expr | None = None
        grouping = False
        for c in node.children:
            if c.type == "for_intro":
                names = [self.text(x) for x in c.children if x.type == "identifier"]
                if len(names) == 2:
                    key_var, value_var = names
                elif names:
                    value_var = names[0]
                coll = [x for x in c.children if x.type == "expression"]
                if coll:
                    collection = self.expr(coll[0])
            elif c.type == "expression":
                exprs.append(self.expr(c))
            elif c.type == "for_cond":
                inner = [x for x in c.children if x.type == "expression"]
                if inner:
                    cond = self.expr(inner[0])
            elif c.type == "ellipsis":
                grouping = True
        if node.type == "for_object_expr" and len(exprs) >= 2:
            return (
                "forobj",
                line,
                key_var,
                value_var,
                collection,
                exprs[0],
                exprs[1],
                cond,
                grouping,
            )
        value = exprs[0] if exprs else ("lit", line, None)
        return ("fortuple", line, key_var, value_var, collection, value, cond)

    def sequence(self, nodes: list[Any]) -> Expr:
        """A primary expression followed by its postfix operators (attributes, indexes)."""
        if not nodes:
            return ("lit", 0, None)
        result = self.expr(nodes[0])
        for post in nodes[1:]:
            result = self.postfix(result, post)
        return result

    def object_key(self, node: Any) -> Expr:
        # A bare identifier key is a string (``{ a = 1 }``); parentheses force evaluation.
        inner = [c for c in node.children if c.type != "comment"]
        if (
            node.type == "expression"
            and len(inner) == 1
            and inner[0].type == "variable_expr"
            and self.data[node.start_byte : node.start_byte + 1] != b"("
        ):
            return ("lit", node.start_point[0] + 1, self.text(inner[0]))
        return self.expr(node)

    def literal(self, node: Any, line: int) -> Expr:
        kind = node.type
        if kind == "numeric_lit":
            raw = self.text(node)
            try:
                number: float | int = int(raw)
            except ValueError:
                number = float(raw)
            return ("lit", line, number)
        if kind == "bool_lit":
            return ("lit", line, self.text(node) == "true")
        if kind == "null_lit":
            return ("lit", line, None)
        if kind == "string_lit":
            return ("lit", line, self.string_lit(node))
        return ("unknown", line, f"literal {kind}")

    def postfix(self, target: Expr, node: Any) -> Expr:
        kind = node.type
        line = node.start_point[0] + 1
        if kind == "get_attr":
            name = self.text(node.children[-1])
            return ("getattr", line, target, name)
        if kind == "index":
            inner = node.child(0)
            if inner.type == "legacy_index":
                raw = self.text(inner).lstrip(".")
                return ("index", line, target, ("lit", line, int(raw)))
            exprs = [c for c in inner.children if c.type == "expression"]
            key = self.expr(exprs[0]) if exprs else ("lit", line, 0)
            return ("index", line, target, key)
        if kind == "splat":
            inner = node.child(0)
            ops: list[tuple[str, Any]] = []
            for c in inner.children:
                if c.type == "get_attr":
                    ops.append(("attr", self.text(c.children[-1])))
                elif c.type == "index":
                    sub = c.children[0]
                    exprs = [x for x in sub.children if x.type == "expression"]
                    key = self.expr(exprs[0]) if exprs else ("lit", line, 0)
                    ops.append(("index", key))
            return ("splat", line, target, ops)
        return ("unknown", line, f"unsupported postfix {kind}")

    def template(self, node: Any, line: int) -> Expr:
        kind = node.type
        if kind == "heredoc_template":
            return self.heredoc(node, line)
        start = None
        end = None
        pieces: list[Any] = []
        for c in node.children:
            if c.type == "quoted_template_start":
                start = c.end_byte
            elif c.type == "quoted_template_end":
                end = c.start_byte
        if start is None or end is None:
            return ("lit", line, self.text(node))
        self._template_pieces(node.children, start, end, pieces, escape=True)
        return _template_node(pieces, line)

    def heredoc(self, node: Any, line: int) -> Expr:
        children = node.children
        strip = any(c.type == "heredoc_start" and self.text(c) == "<<-" for c in children)
        idents = [c for c in children if c.type == "heredoc_identifier"]
        if not idents:
            return ("lit", line, "")
        # Content starts on the line after the opening identifier, ends before the closing one.
        open_end = idents[0].end_byte
        newline = self.data.find(b"\n", open_end)
        start = newline + 1 if newline >= 0 else open_end
        if len(idents) > 1:
            close = idents[-1].start_byte
            end = self.data.rfind(b"\n", start, close) + 1
            if end <= 0:
                end = start
        else:
            end = node.end_byte
        pieces: list[Any] = []
        inner = [c for c in children if c.type not in ("heredoc_start", "heredoc_identifier")]
        outer, self.dedent = self.dedent, _indent_of(self.data[start:end]) if strip else 0
        try:
            self._template_pieces(inner, start, end, pieces, escape=False)
        finally:
            self.dedent = outer
        return _template_node(pieces, line)

    def _literal(self, start: int, end: int, *, escape: bool) -> str:
        raw = self.data[start:end].decode("utf-8", errors="replace")
        if self.dedent:
            cut = self.dedent
            at_line_start = start == 0 or self.data[start - 1 : start] == b"\n"
            parts = raw.split("\n")
            raw = "\n".join(
                part[cut:] if (i > 0 or at_line_start) and not part[:cut].strip() else part
                for i, part in enumerate(parts)
            )
        if escape:
            return _unescape(raw)
        return raw.replace("$${", "${").replace("%%{", "%{")

    def _template_pieces(
        self, children: list[Any], start: int, end: int, pieces: list[Any], *, escape: bool
    ) -> None:
        """Literal text, interpolations and directives between two byte offsets, with the
        ``~`` strip markers applied to the literal text beside them."""
        cursor = start
        strip_next = False
        for c in children:
            if c.type not in ("template_interpolation", "template_directive"):
                continue
            if c.start_byte < start or c.end_byte > end:
                continue
            if c.start_byte > cursor:
                text = self._literal(cursor, c.start_byte, escape=escape)
                pieces.append(text.lstrip() if strip_next else text)
            strip_left, strip_next = _strip_markers(c)
            if strip_left:
                _rstrip_last(pieces)
            if c.type == "template_interpolation":
                exprs = [x for x in c.children if x.type == "expression"]
                if exprs:
                    pieces.append(self.expr(exprs[0]))
            else:
                pieces.append(self.directive(c, escape=escape))
            cursor = c.end_byte
        if end > cursor:
            text = self._literal(cursor, end, escape=escape)
            pieces.append(text.lstrip() if strip_next else text)

    def _body(self, children: list[Any], opening: Any, closing: Any, *, escape: bool) -> Expr:
        """The template between two directive markers (``%{ if }`` ... ``%{ else }``)."""
        pieces: list[Any] = []
        self._template_pieces(children, opening.end_byte, closing.start_byte, pieces, escape=escape)
        if _marker_at(opening, -2) and pieces and isinstance(pieces[0], str):
            pieces[0] = pieces[0].lstrip()
        if _marker_at(closing, 1):
            _rstrip_last(pieces)
        return _template_node([p for p in pieces if p != ""], opening.start_point[0] + 1)

    def directive(self, node: Any, *, escape: bool = True) -> Expr:
        """``%{ if }``/``%{ else }``/``%{ endif }`` and ``%{ for x in xs }``/``%{ endfor }``."""
        line = node.start_point[0] + 1
        inner = node.children[0] if node.children else None
        if inner is None:
            return ("lit", line, "")
        parts = {c.type: c for c in inner.children}
        if inner.type == "template_if" and "template_if_intro" in parts:
            intro, end = parts["template_if_intro"], parts.get("template_if_end")
            otherwise = parts.get("template_else_intro")
            conditions = [c for c in intro.children if c.type == "expression"]
            if end is None or not conditions:
                return ("unknown", line, "incomplete template directive")
            then = self._body(inner.children, intro, otherwise or end, escape=escape)
            other = (
                self._body(inner.children, otherwise, end, escape=escape)
                if otherwise is not None
                else ("lit", line, "")
            )
            return ("tif", line, self.expr(conditions[0]), then, other)
        if inner.type == "template_for" and "template_for_start" in parts:
            opening, end = parts["template_for_start"], parts.get("template_for_end")
            names = [self.text(c) for c in opening.children if c.type == "identifier"]
            collections = [c for c in opening.children if c.type == "expression"]
            if end is None or not collections or not 1 <= len(names) <= 2:
                return ("unknown", line, "incomplete template directive")
            key = names[0] if len(names) == 2 else None
            body = self._body(inner.children, opening, end, escape=escape)
            return ("tfor", line, key, names[-1], self.expr(collections[0]), body)
        return ("unknown", line, "template directive")


def _marker_at(node: Any, index: int) -> bool:
    children = node.children
    return len(children) > abs(index) and children[index].type == "strip_marker"


def _strip_markers(node: Any) -> tuple[bool, bool]:
    """Whether a ``${~ }``/``%{~ }`` strips the whitespace before it, and ``~}`` after it."""
    if node.type == "template_interpolation":
        return _marker_at(node, 1), _marker_at(node, -2)
    inner = node.children[0] if node.children else None
    if inner is None or not inner.children:
        return False, False
    return _marker_at(inner.children[0], 1), _marker_at(inner.children[-1], -2)


def _rstrip_last(pieces: list[Any]) -> None:
    if pieces and isinstance(pieces[-1], str):
        pieces[-1] = pieces[-1].rstrip()


def _indent_of(content: bytes) -> int:
    """The indentation a ``<<-`` heredoc removes: the smallest of its non-blank lines."""
    indents = [
        len(line) - len(line.lstrip(b" \t")) for line in content.split(b"\n") if line.strip()
    ]
    return min(indents) if indents else 0


def _template_node(pieces: list[Any], line: int) -> Expr:
    if not pieces:
        return ("lit", line, "")
    if len(pieces) == 1 and isinstance(pieces[0], str):
        return ("lit", line, pieces[0])
    if len(pieces) == 1 and not isinstance(pieces[0], str):
        # "${x}" alone keeps x's type, as Terraform does.
        return pieces[0]  # type: ignore[no-any-return]
    return ("template", line, pieces)
