"""Terraform's built-in functions, evaluated statically.

A function given an unknown argument returns unknown (``uuid()``/``timestamp()`` always do), so
nothing is ever guessed. Functions that pass a value through (``lookup``, ``merge``,
``concat``, ``coalesce``, ``tolist``...) keep the location of what they pass, so findings point
at the line where the value was written, not at the call.

No function can be made to hang or to exhaust memory (see ``budget``): each one whose result
can outgrow its arguments (``range``, ``format`` widths, ``join``, ``replace``, ``indent``,
``setproduct``, ``flatten``, ``formatlist``...) works out the size first and fails with
``ValueTooLarge`` past the bounds; set operations hash instead of comparing all pairs;
regular expressions run on RE2, linear in the text, as Terraform's do.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from sentier.policy.hcl.budget import (
    MAX_DECODE,
    MAX_INT_BITS,
    MAX_ITEMS,
    MAX_RANGE,
    MAX_TEXT,
    MAX_WIDTH,
    current,
)
from sentier.policy.hcl.values import (
    LList,
    merge_unknown,
    strip_locs,
    to_bool,
    to_number,
    to_string,
)
from sentier.policy.model import Loc, Unknown


class EvalError(Exception):
    """A definite error (missing key, wrong type): ``try``/``can`` catch it, others go unknown."""


class ValueTooLarge(EvalError):
    """A result past one of the bounds of ``budget``, refused before it is made."""


def fits_text(length: int, what: str) -> None:
    if length > MAX_TEXT:
        raise ValueTooLarge(f"{what} would be {length:,} characters long (at most {MAX_TEXT:,})")


def fits_items(count: int, what: str) -> None:
    if count > MAX_ITEMS:
        raise ValueTooLarge(f"{what} would have {count:,} members (at most {MAX_ITEMS:,})")


def fits_width(width: int, what: str) -> None:
    if width > MAX_WIDTH:
        raise ValueTooLarge(f"{what} {width:,} is more than {MAX_WIDTH:,}")


def fits_number(number: Any) -> Any:
    """Integers stay below ``MAX_INT_BITS`` bits; floats must be finite."""
    if isinstance(number, int) and not isinstance(number, bool):
        if number.bit_length() > MAX_INT_BITS:
            raise ValueTooLarge(f"number of {number.bit_length():,} bits (at most {MAX_INT_BITS})")
    elif isinstance(number, float) and not math.isfinite(number):
        raise ValueTooLarge("number out of range")
    return number


class EncodedStr(str):
    """A string produced by ``jsonencode``/``yamlencode`` that remembers the structure encoded."""

    __slots__ = ("data",)
    data: Any


def encoded(text: str, data: Any) -> EncodedStr:
    out = EncodedStr(text)
    out.data = data
    return out


Located = tuple[Any, Loc]


def _any_unknown(values: list[Any]) -> Unknown | None:
    for value in values:
        if isinstance(value, Unknown):
            return merge_unknown(*values)
    return None


def _deep_unknown(value: Any) -> bool:
    """Whether an unknown lies anywhere in ``value`` (a plain copy: its size is paid for)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Unknown):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _json_default(value: Any) -> Any:
    raise EvalError(f"cannot encode {type(value).__name__}")


def fn_jsonencode(value: Any) -> Any:
    data = strip_locs(value)  # paid for member by member, strings by length
    if _deep_unknown(data):
        return Unknown(reason="jsonencode of unknown")
    return encoded(json.dumps(data, separators=(",", ":"), default=_json_default), value)


def _decoded(data: Any) -> Any:
    """A decoded document, paid for (a YAML alias shares a member: the walk pays each use)."""
    strip_locs(data)
    return data


def fn_jsondecode(text: Any) -> Any:
    if not isinstance(text, str):
        raise EvalError("jsondecode needs a string")
    if len(text) > MAX_DECODE:
        raise ValueTooLarge(f"jsondecode of {len(text):,} characters (at most {MAX_DECODE:,})")
    try:
        return _decoded(json.loads(text))
    except (ValueError, RecursionError) as error:
        raise EvalError(f"invalid JSON: {error}") from error


def fn_yamlencode(value: Any) -> Any:
    import yaml

    budget = current()
    before = budget.steps
    data = strip_locs(value)
    # PyYAML writes in Python, far slower than json: fewer members, or a scan waits minutes.
    if budget.steps - before > MAX_ITEMS:
        raise ValueTooLarge(f"yamlencode() of more than {MAX_ITEMS:,} members")
    if _deep_unknown(data):
        return Unknown(reason="yamlencode of unknown")
    return encoded(yaml.safe_dump(data, sort_keys=True), value)


def fn_yamldecode(text: Any) -> Any:
    import yaml

    if not isinstance(text, str):
        raise EvalError("yamldecode needs a string")
    if len(text) > MAX_DECODE:
        raise ValueTooLarge(f"yamldecode of {len(text):,} characters (at most {MAX_DECODE:,})")
    try:
        return _decoded(yaml.safe_load(text))
    except (yaml.YAMLError, RecursionError) as error:
        raise EvalError(f"invalid YAML: {error}") from error


def _fmt_value(verb: str, value: Any) -> str:
    if verb == "d":
        number = to_number(value)
        if isinstance(number, Unknown):
            raise EvalError("%d needs a number")
        return str(int(number))
    if verb == "q":
        return json.dumps(to_string(value))
    if verb == "v" and isinstance(value, dict | list):
        return json.dumps(strip_locs(value))
    text = to_string(value)
    if isinstance(text, Unknown):
        raise EvalError("format of a collection")
    return text


_FORMAT = re.compile(r"%(%|[-+# 0]*\d*(?:\.\d+)?[sdvqtfbxXoeEgG])")
_WIDTHS = re.compile(r"\d+")


def fn_format(fmt: Any, *args: Any) -> Any:
    if not isinstance(fmt, str):
        raise EvalError("format needs a string")
    values = list(args)
    position = 0
    # Each verb prints at most its width or its argument: bound the sum before printing.
    fits_text(len(fmt) + sum(len(v) for v in values if isinstance(v, str)), "format()")

    def repl(match: re.Match[str]) -> str:
        nonlocal position
        spec = match.group(1)
        if spec == "%":
            return "%"
        for width in _WIDTHS.findall(spec):
            fits_width(int(width), "format width or precision")
        if position >= len(values):
            raise EvalError("not enough arguments to format")
        value = values[position]
        position += 1
        verb = spec[-1]
        if verb in "fFeEgG":
            number = to_number(value)
            if isinstance(number, Unknown):
                raise EvalError("float format needs a number")
            return ("%" + spec) % float(number)
        if verb in "xXob":
            number = to_number(value)
            if isinstance(number, Unknown):
                raise EvalError("number format needs a number")
            return format(int(number), verb)
        text = _fmt_value(verb, value)
        width = spec[:-1].lstrip("-")
        if width.isdigit():
            text = text.ljust(int(width)) if spec.startswith("-") else text.rjust(int(width))
        return text

    return _FORMAT.sub(repl, fmt)


def fn_formatlist(fmt: Any, *args: Any) -> Any:
    lists = [a for a in args if isinstance(a, list)]
    if not lists:
        return [fn_format(fmt, *args)]
    length = len(lists[0])
    if any(len(a) != length for a in lists):
        raise EvalError("formatlist needs lists of one length")
    budget = current()
    out = []
    for index in range(length):
        row = [a[index] if isinstance(a, list) else a for a in args]
        text = fn_format(fmt, *row)
        budget.step()
        budget.claim(len(text))
        out.append(text)
    return out


def fn_join(sep: Any, *lists: Any) -> Any:
    items: list[Any] = []
    for value in lists:
        if not isinstance(value, list):
            raise EvalError("join needs lists")
        items.extend(value)
    if _any_unknown(items):
        return merge_unknown(*items)
    texts = [str(to_string(i)) for i in items if i is not None]
    separator = str(sep)
    fits_text(sum(map(len, texts)) + len(separator) * max(len(texts) - 1, 0), "join()")
    return separator.join(texts)


def fn_split(sep: Any, text: Any) -> Any:
    if not isinstance(text, str):
        raise EvalError("split needs a string")
    separator = str(sep)
    if separator and text:
        fits_items(text.count(separator) + 1, "split()")
    return text.split(separator) if text else [""]


@lru_cache(maxsize=256)
def _re2(pattern: str) -> Any:
    """A pattern compiled by RE2, Terraform's own regular expression engine (Go's regexp is
    RE2): matching is linear in the text, so no pattern can make a scan backtrack for hours,
    and a pattern Terraform refuses (back-references, look-arounds) is refused here too."""
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        raise EvalError(f"invalid regular expression {pattern!r}: {error}") from error


def fn_replace(text: Any, old: Any, new: Any) -> Any:
    if not isinstance(text, str):
        raise EvalError("replace needs a string")
    old_s, new_s = str(old), str(new)
    if len(old_s) > 1 and old_s.startswith("/") and old_s.endswith("/"):
        compiled = _re2(old_s[1:-1])
        replacement = re.sub(r"\$(\d+)", r"\\\1", new_s)
        longest, count = 0, 0
        for match in compiled.finditer(text):
            count += 1
            longest = max(longest, len(match.group(0)))
        # Each match becomes the replacement, whose group references repeat at most the match.
        fits_text(len(text) + count * len(replacement) * max(longest, 1), "replace()")
        return compiled.sub(replacement, text)
    if old_s:
        fits_text(len(text) + text.count(old_s) * max(len(new_s) - len(old_s), 0), "replace()")
    else:
        fits_text(len(text) + (len(text) + 1) * len(new_s), "replace()")
    return text.replace(old_s, new_s)


def fn_substr(text: Any, offset: Any, length: Any) -> Any:
    text_s = str(text)
    start = int(offset)
    if start < 0:
        start = len(text_s) + start
    count = int(length)
    return text_s[start:] if count < 0 else text_s[start : start + count]


def fn_length(value: Any) -> Any:
    if isinstance(value, str | list | dict):
        return len(value)
    if value is None:
        raise EvalError("length of null")
    raise EvalError("length of a scalar")


def fn_keys(value: Any) -> Any:
    if not isinstance(value, dict):
        raise EvalError("keys needs a map")
    return sorted(value.keys(), key=str)


def fn_values(value: Any) -> Any:
    if not isinstance(value, dict):
        raise EvalError("values needs a map")
    return [value[k] for k in sorted(value.keys(), key=str)]


def fn_flatten(value: Any) -> Any:
    if not isinstance(value, list):
        raise EvalError("flatten needs a list")
    out = LList()
    locs = value.locs if isinstance(value, LList) else []
    budget = current()

    def add(items: list[Any], item_locs: list[Loc]) -> None:
        for index, item in enumerate(items):
            budget.step()
            if isinstance(item, list):
                add(item, item.locs if isinstance(item, LList) else [])
            else:
                out.append(item)
                if len(out) > MAX_ITEMS:
                    fits_items(len(out), "flatten()")
                if index < len(item_locs):
                    out.locs.append(item_locs[index])
                elif out.locs:
                    out.locs.append(out.locs[-1])

    try:
        add(value, locs)
    except RecursionError as error:
        raise EvalError("flatten(): lists nested too deeply") from error
    if len(out.locs) != len(out):
        out.locs = []
    return out


def _key(value: Any, memo: dict[int, Any]) -> Any:
    """A hashable stand-in for a value, equal exactly when values are equal (``==``).

    Lists and maps are hashed by content; a member shared by reference is keyed once
    (``memo``), so sets of large shared structures cost their size, not its repetitions.
    """
    if isinstance(value, list | dict):
        known = memo.get(id(value))
        if known is not None:
            return known
        current().step()
        if isinstance(value, list):
            key: Any = ("list", tuple(_key(v, memo) for v in value))
        else:
            key = ("map", frozenset((k, _key(v, memo)) for k, v in value.items()))
        memo[id(value)] = key
        return key
    return value


def _keys(values: Iterable[Any]) -> list[Any]:
    memo: dict[int, Any] = {}
    try:
        return [_key(v, memo) for v in values]
    except RecursionError as error:
        raise EvalError("values nested too deeply to compare") from error


def _unique(items: list[Any], keys: list[Any]) -> list[int]:
    """Positions of the first occurrence of each distinct value, in order: linear time."""
    seen: set[Any] = set()
    positions = []
    for index, key in enumerate(keys):
        if key not in seen:
            seen.add(key)
            positions.append(index)
    return positions


def fn_distinct(value: Any) -> Any:
    if not isinstance(value, list):
        raise EvalError("distinct needs a list")
    return [value[i] for i in _unique(value, _keys(value))]


def fn_compact(value: Any) -> Any:
    if not isinstance(value, list):
        raise EvalError("compact needs a list")
    return [v for v in value if v is not None and v != ""]


def fn_contains(collection: Any, item: Any) -> Any:
    if isinstance(item, Unknown):
        return item
    if not isinstance(collection, list | dict):
        raise EvalError("contains needs a list")
    found = _keys([item])[0] in set(_keys(collection))
    if not found and any(isinstance(v, Unknown) for v in collection):
        return Unknown()
    return found


def fn_element(value: Any, index: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise EvalError("element needs a non-empty list")
    return value[int(index) % len(value)]


def fn_index(value: Any, item: Any) -> Any:
    if not isinstance(value, list):
        raise EvalError("index needs a list")
    wanted = _keys([item])[0]
    for position, key in enumerate(_keys(value)):
        if key == wanted:
            return position
    raise EvalError("item not in list")


def fn_zipmap(keys: Any, values: Any) -> Any:
    if not isinstance(keys, list) or not isinstance(values, list):
        raise EvalError("zipmap needs lists")
    return dict(zip((str(k) for k in keys), values, strict=False))


def fn_range(*args: Any) -> Any:
    numbers = [int(a) for a in args]
    if not 1 <= len(numbers) <= 3:
        raise EvalError("range needs one to three numbers")
    if len(numbers) == 1:
        numbers = [0, numbers[0]]
    sequence = range(*numbers)
    if len(sequence) > MAX_RANGE:
        # Terraform's own limit and words.
        raise ValueTooLarge(
            f"more than {MAX_RANGE} values were generated; either decrease the difference "
            "between start and end or use a smaller step"
        )
    return list(sequence)


def _numbers(args: tuple[Any, ...]) -> list[float | int]:
    values: list[Any] = []
    for arg in args:
        values.extend(arg if isinstance(arg, list) else [arg])
    out = []
    for value in values:
        number = to_number(value)
        if isinstance(number, Unknown):
            raise EvalError("not a number")
        out.append(number)
    return out


def fn_max(*args: Any) -> Any:
    return max(_numbers(args))


def fn_min(*args: Any) -> Any:
    return min(_numbers(args))


def fn_sum(value: Any) -> Any:
    return sum(_numbers((value,)))


def _newbits(network: Any, newbits: Any) -> int:
    """Bits added to a prefix: between 0 and what the address has left (no huge shifts)."""
    bits = int(newbits)
    if not 0 <= bits <= network.max_prefixlen - network.prefixlen:
        raise EvalError(
            f"newbits {bits} does not fit a /{network.prefixlen} of {network.max_prefixlen} bits"
        )
    return bits


def fn_cidrsubnet(prefix: Any, newbits: Any, netnum: Any) -> Any:
    try:
        network = ipaddress.ip_network(str(prefix), strict=False)
        new_prefix = network.prefixlen + _newbits(network, newbits)
        subnets = network.subnets(new_prefix=new_prefix)
        step = 1 << (network.max_prefixlen - new_prefix)
        base = int(network.network_address) + int(netnum) * step
        address = ipaddress.ip_address(base)
        del subnets
        return f"{address}/{new_prefix}"
    except (ValueError, TypeError) as error:
        raise EvalError(f"cidrsubnet: {error}") from error


def fn_cidrsubnets(prefix: Any, *newbits: Any) -> Any:
    try:
        network = ipaddress.ip_network(str(prefix), strict=False)
    except ValueError as error:
        raise EvalError(f"cidrsubnets: {error}") from error
    out = []
    cursor = int(network.network_address)
    for bits in newbits:
        size = 1 << (network.max_prefixlen - network.prefixlen - _newbits(network, bits))
        if cursor % size:
            cursor += size - cursor % size
        out.append(f"{ipaddress.ip_address(cursor)}/{network.prefixlen + int(bits)}")
        cursor += size
    return out


def fn_cidrhost(prefix: Any, hostnum: Any) -> Any:
    try:
        network = ipaddress.ip_network(str(prefix), strict=False)
        number = int(hostnum)
        base = int(network.network_address if number >= 0 else network.broadcast_address + 1)
        return str(ipaddress.ip_address(base + number))
    except (ValueError, TypeError) as error:
        raise EvalError(f"cidrhost: {error}") from error


def fn_cidrnetmask(prefix: Any) -> Any:
    try:
        return str(ipaddress.ip_network(str(prefix), strict=False).netmask)
    except ValueError as error:
        raise EvalError(f"cidrnetmask: {error}") from error


def fn_regex(pattern: Any, text: Any) -> Any:
    match = _re2(str(pattern)).search(str(text))
    if match is None:
        raise EvalError("regex did not match")
    if match.groupdict():
        return match.groupdict()
    if match.groups():
        return list(match.groups())
    return match.group(0)


def fn_regexall(pattern: Any, text: Any) -> Any:
    out: list[Any] = []
    for m in _re2(str(pattern)).finditer(str(text)):
        out.append(m.group(0) if not m.groups() else list(m.groups()))
        if len(out) > MAX_ITEMS:
            fits_items(len(out), "regexall()")
    return out


def fn_slice(value: Any, start: Any, end: Any) -> Any:
    return list(value)[int(start) : int(end)]


def fn_chunklist(value: Any, size: Any) -> Any:
    n = int(size)
    items = list(value)
    return [items[i : i + n] for i in range(0, len(items), n)] if n > 0 else [items]


def fn_setproduct(*lists: Any) -> Any:
    import itertools

    if not all(isinstance(v, list) for v in lists):
        raise EvalError("setproduct needs lists")
    count = math.prod(len(v) for v in lists) if lists else 0
    fits_items(count, "setproduct()")
    fits_items(count * len(lists), "setproduct() (all members of its lists)")
    return [list(p) for p in itertools.product(*lists)]


def fn_setunion(*lists: Any) -> Any:
    items = [item for value in lists for item in value]
    return [items[i] for i in _unique(items, _keys(items))]


def fn_setintersection(first: Any, *others: Any) -> Any:
    sets = [set(_keys(other)) for other in others]
    keys = _keys(first)
    return [first[i] for i in _unique(first, keys) if all(keys[i] in other for other in sets)]


def fn_setsubtract(first: Any, second: Any) -> Any:
    removed = set(_keys(second))
    keys = _keys(first)
    return [first[i] for i in _unique(first, keys) if keys[i] not in removed]


def fn_transpose(value: Any) -> Any:
    out: dict[str, list[str]] = {}
    for key, items in value.items():
        for item in items:
            out.setdefault(str(item), []).append(key)
    return out


def fn_base64encode(text: Any) -> Any:
    data = str(text).encode()
    fits_text((len(data) + 2) // 3 * 4, "base64encode()")
    return base64.b64encode(data).decode()


def fn_base64decode(text: Any) -> Any:
    try:
        return base64.b64decode(str(text)).decode("utf-8", errors="replace")
    except ValueError as error:
        raise EvalError(str(error)) from error


def _hash(algorithm: str) -> Callable[[Any], Any]:
    def run(text: Any) -> Any:
        return hashlib.new(algorithm, str(text).encode()).hexdigest()

    return run


def fn_tobool(value: Any) -> Any:
    result = to_bool(value)
    if isinstance(result, Unknown) and not isinstance(value, Unknown):
        if value is None:
            return None
        raise EvalError(f"cannot convert {value!r} to bool")
    return result


def fn_tonumber(value: Any) -> Any:
    if value is None:
        return None
    result = to_number(value)
    if isinstance(result, Unknown) and not isinstance(value, Unknown):
        raise EvalError(f"cannot convert {value!r} to number")
    return result


def fn_tostring(value: Any) -> Any:
    if value is None:
        return None
    result = to_string(value)
    if isinstance(result, Unknown) and not isinstance(value, Unknown):
        raise EvalError("cannot convert a collection to string")
    return result


def fn_tolist(value: Any) -> Any:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        raise EvalError("cannot convert a map to list")
    raise EvalError("tolist needs a collection")


def fn_toset(value: Any) -> Any:
    if not isinstance(value, list):
        raise EvalError("toset needs a collection")
    positions = _unique(value, _keys(value))
    locs = value.locs if isinstance(value, LList) else []
    out = LList(value[i] for i in positions)
    if len(locs) == len(value):
        out.locs = [locs[i] for i in positions]
    return out


def fn_tomap(value: Any) -> Any:
    if not isinstance(value, dict):
        raise EvalError("tomap needs an object")
    return value


def fn_reverse(value: Any) -> Any:
    return list(reversed(list(value)))


def fn_sort(value: Any) -> Any:
    unknown = _any_unknown(list(value))
    if unknown is not None:
        return unknown
    texts = [to_string(v) for v in value]
    keys = [t for t in texts if isinstance(t, str)]
    if len(keys) != len(texts):
        raise EvalError("sort needs a list of strings")
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return [value[i] for i in order]


def fn_title(text: Any) -> Any:
    return re.sub(r"\b([a-z])", lambda m: m.group(1).upper(), str(text))


def fn_trim(text: Any, chars: Any) -> Any:
    return str(text).strip(str(chars))


def fn_indent(spaces: Any, text: Any) -> Any:
    count, body = int(spaces), str(text)
    fits_width(count, "indent of")
    fits_text(len(body) + body.count("\n") * max(count, 0), "indent()")
    return body.replace("\n", "\n" + " " * count)


def fn_alltrue(value: Any) -> Any:
    results = [to_bool(v) for v in value]
    if any(r is False for r in results):
        return False
    if any(isinstance(r, Unknown) for r in results):
        return Unknown()
    return True


def fn_anytrue(value: Any) -> Any:
    results = [to_bool(v) for v in value]
    if any(r is True for r in results):
        return True
    if any(isinstance(r, Unknown) for r in results):
        return Unknown()
    return False


def fn_coalescelist(*lists: Any) -> Any:
    for value in lists:
        if isinstance(value, list) and value:
            return value
    return []


def fn_parseint(text: Any, base: Any) -> Any:
    try:
        return fits_number(int(str(text), int(base)))
    except ValueError as error:
        raise EvalError(str(error)) from error


def fn_startswith(text: Any, prefix: Any) -> Any:
    return str(text).startswith(str(prefix))


def fn_endswith(text: Any, suffix: Any) -> Any:
    return str(text).endswith(str(suffix))


def fn_strcontains(text: Any, part: Any) -> Any:
    return str(part) in str(text)


def fn_basename(text: Any) -> Any:
    return str(text).rstrip("/").rsplit("/", 1)[-1]


def fn_dirname(text: Any) -> Any:
    head = str(text).rsplit("/", 1)
    return head[0] if len(head) == 2 else "."


def fn_merge_plain(*maps: Any) -> Any:  # used only through the located version below
    out: dict[Any, Any] = {}
    for value in maps:
        if value is None:
            continue
        if not isinstance(value, dict):
            raise EvalError("merge needs maps")
        out.update(value)
    return out


def fn_matchkeys(values: Any, keys: Any, search: Any) -> Any:
    wanted = set(_keys(search))
    return [v for v, k in zip(values, _keys(keys), strict=False) if k in wanted]


def fn_pow(a: Any, b: Any) -> Any:
    try:
        return fits_number(float(a) ** float(b))
    except OverflowError as error:
        raise ValueTooLarge("pow(): number out of range") from error


def fn_log(a: Any, b: Any) -> Any:
    return math.log(float(a), float(b))


# Functions over plain values: the evaluator unwraps locations, checks for unknowns, calls.
PLAIN: dict[str, Callable[..., Any]] = {
    "jsonencode": fn_jsonencode,
    "jsondecode": fn_jsondecode,
    "yamlencode": fn_yamlencode,
    "yamldecode": fn_yamldecode,
    "format": fn_format,
    "formatlist": fn_formatlist,
    "join": fn_join,
    "split": fn_split,
    "replace": fn_replace,
    "substr": fn_substr,
    "length": fn_length,
    "keys": fn_keys,
    "values": fn_values,
    "flatten": fn_flatten,
    "distinct": fn_distinct,
    "compact": fn_compact,
    "contains": fn_contains,
    "element": fn_element,
    "index": fn_index,
    "zipmap": fn_zipmap,
    "range": fn_range,
    "max": fn_max,
    "min": fn_min,
    "sum": fn_sum,
    "abs": lambda x: abs(_numbers((x,))[0]),
    "ceil": lambda x: math.ceil(_numbers((x,))[0]),
    "floor": lambda x: math.floor(_numbers((x,))[0]),
    "signum": lambda x: (lambda n: (n > 0) - (n < 0))(_numbers((x,))[0]),
    "pow": fn_pow,
    "log": fn_log,
    "parseint": fn_parseint,
    "cidrsubnet": fn_cidrsubnet,
    "cidrsubnets": fn_cidrsubnets,
    "cidrhost": fn_cidrhost,
    "cidrnetmask": fn_cidrnetmask,
    "regex": fn_regex,
    "regexall": fn_regexall,
    "slice": fn_slice,
    "chunklist": fn_chunklist,
    "setproduct": fn_setproduct,
    "setunion": fn_setunion,
    "setintersection": fn_setintersection,
    "setsubtract": fn_setsubtract,
    "transpose": fn_transpose,
    "base64encode": fn_base64encode,
    "base64decode": fn_base64decode,
    "md5": _hash("md5"),
    "sha1": _hash("sha1"),
    "sha256": _hash("sha256"),
    "sha512": _hash("sha512"),
    "reverse": fn_reverse,
    "sort": fn_sort,
    "title": fn_title,
    "trim": fn_trim,
    "trimprefix": lambda t, p: str(t).removeprefix(str(p)),
    "trimsuffix": lambda t, s: str(t).removesuffix(str(s)),
    "chomp": lambda t: str(t).rstrip("\r\n"),
    "strrev": lambda t: str(t)[::-1],
    "indent": fn_indent,
    "alltrue": fn_alltrue,
    "anytrue": fn_anytrue,
    "coalescelist": fn_coalescelist,
    "startswith": fn_startswith,
    "endswith": fn_endswith,
    "strcontains": fn_strcontains,
    "basename": fn_basename,
    "dirname": fn_dirname,
    "matchkeys": fn_matchkeys,
    "urlencode": lambda t: __import__("urllib.parse").parse.quote(str(t), safe=""),
    "tobool": fn_tobool,
    "toset": fn_toset,
    "tomap": fn_tomap,
    "tonumber": fn_tonumber,
    "tostring": fn_tostring,
    "lower": lambda t: str(t).lower(),
    "upper": lambda t: str(t).upper(),
    "trimspace": lambda t: str(t).strip(),
}

# Functions whose result is (a member of) one argument: the location of that argument is kept.
PASS_THROUGH = {
    "tobool",
    "tonumber",
    "tostring",
    "tolist",
    "toset",
    "tomap",
    "lower",
    "upper",
    "trimspace",
    "sensitive",
    "nonsensitive",
    "flatten",
    "distinct",
    "compact",
    "jsonencode",
    "yamlencode",
    "title",
    "sort",
    "reverse",
}

# Never knowable before apply.
ALWAYS_UNKNOWN = {"uuid", "uuidv5", "timestamp", "plantimestamp", "bcrypt", "timeadd", "formatdate"}
