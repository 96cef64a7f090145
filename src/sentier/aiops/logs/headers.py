"""Log header formats: ``<Date> <Time> <Level> <Component>: <Content>`` into named fields.

The notation is the Loghub benchmark's: ``<Name>`` is a field, a space matches any run of
blanks, other text matches itself. Loghub's own strings escape brackets (``\\[<Pid>\\]``) and
mark optional parts as ``(...)?``; both are understood, so its published formats work as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sentier.aiops.errors import AIOpsError

_FIELD = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass(frozen=True)
class LogFormat:
    """A compiled header format; ``fields`` in order, ``Content`` among them."""

    text: str
    fields: tuple[str, ...]
    regex: re.Pattern[str]

    def split(self, line: str) -> dict[str, str] | None:
        """The line's fields, or None when the line does not have this header."""
        found = self.regex.match(line)
        return found.groupdict(default="") if found else None

    def records(self, lines: Iterable[str]) -> Iterator[tuple[int, str]]:
        """One record per line, numbered from 1 (multi-line formats override this)."""
        return enumerate(lines, start=1)


def compile_format(text: str) -> LogFormat:
    """Compile a header format; raises AIOpsError naming what is wrong with it."""
    fields: list[str] = []
    out: list[str] = []
    depth = 0
    index = 0
    while index < len(text):
        char = text[index]
        field = _FIELD.match(text, index)
        if field:
            name = field.group(1)
            if name in fields:
                raise AIOpsError(f"field <{name}> appears twice", field="log format")
            fields.append(name)
            out.append(f"(?P<{name}>.*?)")
            index = field.end()
            continue
        if char == "\\" and index + 1 < len(text):
            out.append(re.escape(text[index + 1]))
            index += 2
            continue
        if char == "(":
            depth += 1
            out.append("(?:")
        elif char == ")" and depth:
            depth -= 1
            out.append(")")
            if text.startswith(")?", index):
                out.append("?")
                index += 1
        elif char == " ":
            while index + 1 < len(text) and text[index + 1] == " ":
                index += 1
            out.append(r"\s+")
        else:
            out.append(re.escape(char))
        index += 1
    if depth:
        raise AIOpsError("unbalanced '(' in log format", field="log format")
    if "Content" not in fields:
        raise AIOpsError("a log format needs a <Content> field", field="log format")
    try:
        regex = re.compile("^" + "".join(out) + r"\s*$")
    except re.error as error:
        raise AIOpsError(f"invalid log format: {error}", field="log format") from error
    return LogFormat(text, tuple(fields), regex)
