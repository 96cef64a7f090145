"""Located values: containers that remember where each member was written.

Every expression evaluates to ``(value, loc)``. Objects and tuples built along the way are
``LDict``/``LList`` carrying the location of each member, so a value that travels through a
variable, a module input or ``merge()`` still points at the line a user has to change.
"""

from __future__ import annotations

from typing import Any

from sentier.policy.hcl.budget import WORD, current
from sentier.policy.model import Loc, Unknown


class LDict(dict[Any, Any]):
    __slots__ = ("locs",)

    def __init__(self, *args: Any, locs: dict[Any, Loc] | None = None) -> None:
        super().__init__(*args)
        self.locs: dict[Any, Loc] = locs if locs is not None else {}


class LList(list[Any]):
    __slots__ = ("locs",)

    def __init__(self, items: Any = (), locs: list[Loc] | None = None) -> None:
        super().__init__(items)
        self.locs: list[Loc] = locs if locs is not None else []

    def loc_at(self, index: int, default: Loc) -> Loc:
        return self.locs[index] if 0 <= index < len(self.locs) else default


def member_loc(container: Any, key: Any, default: Loc) -> Loc:
    if isinstance(container, LDict):
        return container.locs.get(key, default)
    if isinstance(container, LList) and isinstance(key, int):
        return container.loc_at(key, default)
    return default


def merge_unknown(*values: Any) -> Unknown:
    refs: frozenset[str] = frozenset()
    for value in values:
        if isinstance(value, Unknown):
            refs = refs | value.refs
    return Unknown(refs)


def to_bool(value: Any) -> bool | Unknown:
    if isinstance(value, Unknown):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        return Unknown(reason=f"not a bool: {value!r}")
    if value is None:
        return Unknown(reason="null used as bool")
    return Unknown(reason=f"not a bool: {value!r}")


def to_number(value: Any) -> float | int | Unknown:
    if isinstance(value, Unknown):
        return value
    if isinstance(value, bool):
        return Unknown(reason="bool used as number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return Unknown(reason=f"not a number: {value!r}")
    return Unknown(reason="not a number")


def to_string(value: Any) -> str | Unknown:
    if isinstance(value, Unknown):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    if value is None:
        return Unknown(reason="null in string")
    return Unknown(reason="collection in string")


def strip_locs(value: Any) -> Any:
    """Plain dict/list copy (for functions that build new values, e.g. jsonencode).

    The copy is paid for member by member, and each string by its length, since what the
    copy is for (an encoding) repeats it: a list sharing one large member a thousand times is
    refused here (``budget``), before an encoder writes it out a thousand times.
    """
    budget = current()

    def copy(item: Any) -> Any:
        budget.step()
        if isinstance(item, dict):
            budget.claim(WORD * (len(item) + 1))
            return {k: copy(v) for k, v in item.items()}
        if isinstance(item, list):
            budget.claim(WORD * (len(item) + 1))
            return [copy(v) for v in item]
        if isinstance(item, str):
            budget.claim(len(item))
        return item

    return copy(value)
