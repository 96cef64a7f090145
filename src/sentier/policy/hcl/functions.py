"""Terraform's built-in functions, evaluated statically.

A function given an unknown argument returns unknown (``uuid()``/``timestamp()`` always do), so
nothing is ever guessed. Functions that pass a value through (``lookup``, ``merge``,
``concat``, ``coalesce``, ``tolist``...) keep the location of what they pass, so findings point
at the line where the value was written, not at the call.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import math
import re
from collections.abc import Callable
from typing import Any

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
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_deep_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_deep_unknown(v) for v in value)
    return False


def _json_default(value: Any) -> Any:
    raise EvalError(f"cannot encode {type(value).__name__}")


def fn_jsonencode(value: Any) -> Any:
    if _deep_unknown(value):
        return Unknown(reason="jsonencode of unknown")
    data = strip_locs(value)
    return encoded(json.dumps(data, separators=(",", ":"), default=_json_default), value)


def fn_jsondecode(text: Any) -> Any:
    if not isinstance(text, str):
        raise EvalError("jsondecode needs a string")
    try:
        return json.loads(text)
    except ValueError as error:
        raise EvalError(f"invalid JSON: {error}") from error


def fn_yamlencode(value: Any) -> Any:
    import yaml

    if _deep_unknown(value):
        return Unknown(reason="yamlencode of unknown")
    return encoded(yaml.safe_dump(strip_locs(value), sort_keys=True), value)


def fn_yamldecode(text: Any) -> Any:
    import yaml

    if not isinstance(text, str):
        raise EvalError("yamldecode needs a string")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
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


def fn_format(fmt: Any, *args: Any) -> Any:
    if not isinstance(fmt, str):
        raise EvalError("format needs a string")
    values = list(args)
    position = 0

    def repl(match: re.Match[str]) -> str:
        nonlocal position
        spec = match.group(1)
        if spec == "%":
            return "%"
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
    out = []
    for index in range(length):
        row = [a[index] if isinstance(a, list) else a for a in args]
        out.append(fn_format(fmt, *row))
    return out


def fn_join(sep: Any, *lists: Any) -> Any:
    items: list[Any] = []
    for value in lists:
        if not isinstance(value, list):
            raise EvalError("join needs lists")
        items.extend(value)
    if _any_unknown(items):
        return merge_unknown(*items)
    return str(sep).join(str(to_string(i)) for i in items if i is not None)


def fn_split(sep: Any, text: Any) -> Any:
    if not isinstance(text, str):
        raise EvalError("split needs a string")
    return text.split(str(sep)) if text else [""]


def fn_replace(text: Any, old: Any, new: Any) -> Any:
    if not isinstance(text, str):
        raise EvalError("replace needs a string")
    old_s, new_s = str(old), str(new)
    if len(old_s) > 1 and old_s.startswith("/") and old_s.endswith("/"):
        pattern = old_s[1:-1]
        return re.sub(pattern, re.sub(r"\$(\d+)", r"\\\1", new_s), text)
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

    def add(items: list[Any], item_locs: list[Loc]) -> None:
        for index, item in enumerate(items):
            if isinstance(item, list):
                add(item, item.locs if isinstance(item, LList) else [])
            else:
                out.append(item)
                if index < len(item_locs):
                    out.locs.append(item_locs[index])
                elif out.locs:
                    out.locs.append(out.locs[-1])

    add(value, locs)
    if len(out.locs) != len(out):
        out.locs = []
    return out


def fn_distinct(value: Any) -> Any:
    if not isinstance(value, list):
        raise EvalError("distinct needs a list")
    out: list[Any] = []
    for item in value:
        if item not in out:
            out.append(item)
    return out


def fn_compact(value: Any) -> Any:
    if not isinstance(value, list):
        raise EvalError("compact needs a list")
    return [v for v in value if v is not None and v != ""]


def fn_contains(collection: Any, item: Any) -> Any:
    if isinstance(item, Unknown):
        return item
    if not isinstance(collection, list | dict):
        raise EvalError("contains needs a list")
    if any(isinstance(v, Unknown) for v in collection) and item not in collection:
        return Unknown()
    return item in collection


def fn_element(value: Any, index: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise EvalError("element needs a non-empty list")
    return value[int(index) % len(value)]


def fn_index(value: Any, item: Any) -> Any:
    if not isinstance(value, list):
        raise EvalError("index needs a list")
    if item not in value:
        raise EvalError("item not in list")
    return value.index(item)


def fn_zipmap(keys: Any, values: Any) -> Any:
    if not isinstance(keys, list) or not isinstance(values, list):
        raise EvalError("zipmap needs lists")
    return dict(zip((str(k) for k in keys), values, strict=False))


def fn_range(*args: Any) -> Any:
    numbers = [int(a) for a in args]
    if len(numbers) == 1:
        return list(range(numbers[0]))
    if len(numbers) == 2:
        return list(range(numbers[0], numbers[1]))
    return list(range(numbers[0], numbers[1], numbers[2]))


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


def fn_cidrsubnet(prefix: Any, newbits: Any, netnum: Any) -> Any:
    try:
        network = ipaddress.ip_network(str(prefix), strict=False)
        new_prefix = network.prefixlen + int(newbits)
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
        size = 1 << (network.max_prefixlen - network.prefixlen - int(bits))
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
    match = re.search(str(pattern), str(text))
    if match is None:
        raise EvalError("regex did not match")
    if match.groupdict():
        return match.groupdict()
    if match.groups():
        return list(match.groups())
    return match.group(0)


def fn_regexall(pattern: Any, text: Any) -> Any:
    return [
        m.group(0) if not m.groups() else list(m.groups())
        for m in re.finditer(str(pattern), str(text))
    ]


def fn_slice(value: Any, start: Any, end: Any) -> Any:
    return list(value)[int(start) : int(end)]


def fn_chunklist(value: Any, size: Any) -> Any:
    n = int(size)
    items = list(value)
    return [items[i : i + n] for i in range(0, len(items), n)] if n > 0 else [items]


def fn_setproduct(*lists: Any) -> Any:
    import itertools

    return [list(p) for p in itertools.product(*lists)]


def fn_setunion(*lists: Any) -> Any:
    out: list[Any] = []
    for value in lists:
        for item in value:
            if item not in out:
                out.append(item)
    return out


def fn_setintersection(first: Any, *others: Any) -> Any:
    return [i for i in first if all(i in o for o in others)]


def fn_setsubtract(first: Any, second: Any) -> Any:
    return [i for i in first if i not in second]


def fn_transpose(value: Any) -> Any:
    out: dict[str, list[str]] = {}
    for key, items in value.items():
        for item in items:
            out.setdefault(str(item), []).append(key)
    return out


def fn_base64encode(text: Any) -> Any:
    return base64.b64encode(str(text).encode()).decode()


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
    out = LList()
    locs = value.locs if isinstance(value, LList) else []
    for index, item in enumerate(value):
        if item not in out:
            out.append(item)
            if index < len(locs):
                out.locs.append(locs[index])
    if len(out.locs) != len(out):
        out.locs = []
    return out


def fn_tomap(value: Any) -> Any:
    if not isinstance(value, dict):
        raise EvalError("tomap needs an object")
    return value


def fn_reverse(value: Any) -> Any:
    return list(reversed(list(value)))


def fn_sort(value: Any) -> Any:
    return sorted(value, key=lambda v: str(v))


def fn_title(text: Any) -> Any:
    return re.sub(r"\b([a-z])", lambda m: m.group(1).upper(), str(text))


def fn_trim(text: Any, chars: Any) -> Any:
    return str(text).strip(str(chars))


def fn_indent(spaces: Any, text: Any) -> Any:
    pad = " " * int(spaces)
    return str(text).replace("\n", "\n" + pad)


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
        return int(str(text), int(base))
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
    return [v for v, k in zip(values, keys, strict=False) if k in search]


def fn_pow(a: Any, b: Any) -> Any:
    return float(a) ** float(b)


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
