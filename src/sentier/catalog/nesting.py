"""How deep a YAML text nests its flow collections, found before any parser sees it.

The YAML parser's time grows with the square of the flow-collection depth it is fed (a line
``x: [[[…`` of 40,000 brackets holds it, and the interpreter with it, for seconds before it
refuses at depth 128). Real descriptors nest about ten levels (eleven at most in Backstage's
own examples). So a text whose ``[``/``{`` nest more than :data:`MAX_FLOW_DEPTH` deep is
refused beforehand, with its line, by this linear scan.

The scan follows YAML's lexical rules only as far as depth needs: brackets count in flow
context, and in block context only where a node starts; quoted scalars (over several lines
too), comments and block scalars (``|``, ``>``) are skipped, so brackets inside text never
count, and a quote inside a plain scalar (``it's``) never hides brackets that follow. A text
with few brackets is not scanned at all.
"""

from __future__ import annotations

import re

MAX_FLOW_DEPTH = 64

_INDICATOR = re.compile(r"[-?:](?=[ \t]|$)[ \t]*")
_PROPERTIES = re.compile(r"(?:[&!][^ \t\[\]{},]*[ \t]*)+")
_VALUE = re.compile(r"[ \t]*:(?=[ \t]|$)[ \t]*")
_KEY_END = re.compile(r"[ \t]#|:(?=[ \t]|$)")
_FLOW_MARK = re.compile(r"""[\[\]{},:#'"]""")
_PROPS_ONLY = re.compile(r"[ \t]*(?:[&!][^ \t]*[ \t]+)*[ \t]*")
_END = {'"': re.compile(r'(?:[^"\\]|\\.)*"'), "'": re.compile(r"(?:[^']|'')*'")}


class _Scan:
    """One pass over the lines of a document; stops at the first line past the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.flow = 0
        self.expect = True  # in flow context: is a node (so possibly a quote) expected here?
        self.quote: str | None = None
        self.block: list[int | None] | None = None  # [parent column, content column]
        self.too_deep: int | None = None

    def run(self, text: str) -> int | None:
        for number, line in enumerate(text.split("\n"), 1):
            self.line(line.rstrip("\r"))
            if self.too_deep is not None:
                return number
        return None

    def line(self, line: str) -> None:
        pos = 0
        if self.quote is not None:
            end = _END[self.quote].match(line)
            if end is None:
                return  # the quoted scalar goes on
            self.quote, pos = None, end.end()
            if self.flow:
                self.expect = False
                self.in_flow(line, pos)
            else:
                self.after_node(line, pos)
            return
        if self.block is not None and self._inside_block_scalar(line):
            return
        if self.flow:
            self.in_flow(line, pos)
            return
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            return
        self.node(line, len(line) - len(stripped))

    def _inside_block_scalar(self, line: str) -> bool:
        assert self.block is not None
        if not line.strip():
            return True
        indent = len(line) - len(line.lstrip(" "))
        parent, content = self.block
        assert parent is not None
        if content is None and indent > parent:
            self.block[1] = indent
            return True
        if content is not None and indent >= content:
            return True
        self.block = None
        return False

    def node(self, line: str, pos: int) -> None:
        """Block context, at a place where a node may start."""
        parent = pos
        while True:
            indicator = _INDICATOR.match(line, pos)
            while indicator is not None:
                parent = pos
                pos = indicator.end()
                indicator = _INDICATOR.match(line, pos)
            properties = _PROPERTIES.match(line, pos)
            if properties is not None:
                pos = properties.end()
            if pos >= len(line):
                return
            char = line[pos]
            if char == "#":
                return
            if char in "[{":
                self.flow, self.expect = 1, True
                self.in_flow(line, pos + 1)
                return
            if char in "'\"":
                end = _END[char].match(line, pos + 1)
                if end is None:
                    self.quote = char
                    return
                value = _VALUE.match(line, end.end())
                if value is None:
                    return
                parent, pos = pos, value.end()
                continue
            if char in "|>":
                self.block = [parent, None]
                return
            key_end = _KEY_END.search(line, pos)
            if key_end is None or key_end.group().endswith("#"):
                return  # a plain scalar to the end of the line (and maybe a comment)
            parent, pos = pos, key_end.end()
            pos = len(line) - len(line[pos:].lstrip(" \t"))

    def after_node(self, line: str, pos: int) -> None:
        """Block context, after a quoted scalar or a flow collection: a value may follow."""
        value = _VALUE.match(line, pos)
        if value is not None:
            self.node(line, value.end())

    def in_flow(self, line: str, pos: int) -> None:
        while pos < len(line):
            mark = _FLOW_MARK.search(line, pos)
            if mark is None:
                if line[pos:].strip():
                    self.expect = False
                return
            between = line[pos : mark.start()]
            if between and not _PROPS_ONLY.fullmatch(between):
                self.expect = False
            char, pos = mark.group(), mark.end()
            if char in "[{":
                self.flow += 1
                self.expect = True
                if self.flow > self.limit:
                    self.too_deep = self.flow
                    return
            elif char in "]}":
                self.flow = max(0, self.flow - 1)
                self.expect = False
                if not self.flow:
                    self.after_node(line, pos)
                    return
            elif char == ",":
                self.expect = True
            elif char == ":":
                following = line[pos : pos + 1]
                if not following or following in " \t[]{},":
                    self.expect = True
            elif char == "#":
                if mark.start() == 0 or line[mark.start() - 1] in " \t":
                    return
                self.expect = False
            elif self.expect:  # a quote where a node starts: a quoted scalar
                end = _END[char].match(line, pos)
                if end is None:
                    self.quote = char
                    return
                pos = end.end()
                self.expect = False
            else:
                self.expect = False


def too_deep_line(text: str, limit: int = MAX_FLOW_DEPTH) -> int | None:
    """The 1-based line of ``text`` where flow collections first nest deeper than ``limit``,
    or None. Linear in the text; texts with at most ``limit`` brackets return at once."""
    if text.count("[") + text.count("{") <= limit:
        return None
    return _Scan(limit).run(text)
