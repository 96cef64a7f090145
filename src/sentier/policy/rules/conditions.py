"""Declarative conditions, compiled once into closures evaluated with three-valued logic.

A condition answers True (the resource fails), False, or None (unknowable statically) and,
when True, names the places that made it so (``witnesses``): a finding is written for each,
so a rule flags every wildcard of an RBAC rule or every open ingress block at its own line.
``all`` points where its last member matched; ``any`` where each matching member did.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentier.policy.errors import PolicyError
from sentier.policy.model import Loc, Path, Resource, Unknown, refs_in
from sentier.policy.rules import iam, network
from sentier.policy.rules.paths import elements, parse_path, resolve

if TYPE_CHECKING:
    from sentier.policy.rules.engine import Context

Witness = tuple[Loc, str | None]
Outcome = tuple[bool | None, list[Witness]]
Condition = Callable[["Context", Resource, Path], Outcome]

FALSE: Outcome = (False, [])
UNKNOWN: Outcome = (None, [])

_LEAF_OPS = {
    "equals",
    "not_equals",
    "in",
    "not_in",
    "matches",
    "not_matches",
    "exists",
    "truthy",
    "falsy",
    "empty",
    "not_empty",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "contains_any",
    "world",
    "world_lenient",
    "covers_port",
    "starts_with",
    "type_is",
}


class Compiler:
    """Compiles a rule's condition tree; ``where`` names the rule file for error messages."""

    def __init__(self, where: str, python_checks: dict[str, Callable[..., Any]]) -> None:
        self.where = where
        self.python_checks = python_checks

    def fail(self, message: str) -> PolicyError:
        return PolicyError(message, file=self.where)

    def compile(self, spec: Any) -> Condition:
        if isinstance(spec, list):
            return self.compile({"all": spec})
        if not isinstance(spec, dict) or not spec:
            raise self.fail(f"a condition must be a mapping, got {spec!r}")
        if "all" in spec:
            return _all([self.compile(s) for s in _list(spec["all"])])
        if "any" in spec:
            return _any([self.compile(s) for s in _list(spec["any"])])
        if "not" in spec:
            return _not(self.compile(spec["not"]))
        if "some" in spec or "every" in spec:
            every = "every" in spec
            target = spec["every" if every else "some"]
            inner = self.compile(spec.get("match", {"exists": True, "attr": "."}))
            return _iterate(str(target), inner, every)
        if "related" in spec:
            match = self.compile(spec["match"]) if "match" in spec else None
            return _related(_list(spec["related"]), _list(spec.get("via", [])), match)
        if "linked" in spec:
            return _linked(
                str(spec["linked"]),
                self.compile(spec.get("match", [])),
                bool(spec.get("missing_fails", False)),
            )
        if "iam" in spec:
            return _iam(str(spec["iam"]), self.compile(spec["match"]))
        if "python" in spec:
            name = str(spec["python"])
            function = self.python_checks.get(name)
            if function is None:
                raise self.fail(f"no python check named {name!r}")
            options = {k: v for k, v in spec.items() if k != "python"}
            return _python(function, options)
        if "port_range" in spec:
            rng = spec["port_range"]
            return _port_range(
                parse_path(str(rng.get("from", "from_port"))),
                parse_path(str(rng.get("to", "to_port"))),
                parse_path(str(rng.get("protocol", "protocol"))),
                int(spec["port"]),
            )
        if "meta" in spec:
            key, wanted = str(spec["meta"]), spec.get("equals", True)

            def meta(ctx: Context, resource: Resource, base: Path) -> Outcome:
                return (True, []) if resource.meta.get(key, False) == wanted else FALSE

            return meta
        if "attr" in spec:
            return self.leaf(spec)
        raise self.fail(f"unknown condition {sorted(spec)}")

    def leaf(self, spec: dict[str, Any]) -> Condition:
        path_text = str(spec["attr"])
        ops = [k for k in spec if k in _LEAF_OPS]
        if len(ops) != 1:
            raise self.fail(f"condition on {path_text!r} needs exactly one operator, got {ops}")
        op = ops[0]
        operand = spec[op]
        has_default = "default" in spec
        default = spec.get("default")
        test = _leaf_test(op, operand, spec, self)
        absolute = path_text.startswith("/")
        rel = parse_path(path_text.lstrip("/"))
        view, rel = _split_view(rel)

        report = spec.get("report")
        report_rel = None if report in (None, "base") else parse_path(str(report))

        def at(resource: Resource, start: Path, path: Path, weak: bool) -> Witness:
            if report == "base":
                return (resource.loc_of(start), "" if weak else None)
            if report_rel is not None:
                return (resource.loc_of((*start, *report_rel)), "" if weak else None)
            if weak:
                return (present_loc(resource, start, rel), "")
            return (resource.loc_of(path), None)

        def run(ctx: Context, resource: Resource, base: Path) -> Outcome:
            start = _view_base(resource, view, () if absolute else base)
            if start is None:
                return FALSE
            matches = resolve(resource, start, rel)
            if op == "exists":
                present = [p for p, v in matches if v is not None]
                if operand:
                    if present:
                        return True, [at(resource, start, p, False) for p in present]
                    return FALSE
                if present:
                    return FALSE
                return True, [at(resource, start, (*start, *rel), True)]
            if not matches or all(v is None for _, v in matches):
                if has_default:
                    result = test(default)
                    if result:
                        return True, [at(resource, start, (*start, *rel), True)]
                    return (None, []) if result is None else FALSE
                if op in ("falsy", "empty", "not_in", "not_equals", "not_matches"):
                    return True, [at(resource, start, (*start, *rel), True)]
                return FALSE
            witnesses: list[Witness] = []
            unknown = False
            for path, value in matches:
                result = test(value)
                if result:
                    witnesses.append(at(resource, start, path, value is None))
                elif result is None:
                    unknown = True
            if witnesses:
                return True, witnesses
            return UNKNOWN if unknown else FALSE

        return run


def present_loc(resource: Resource, start: Path, rel: tuple[str | int, ...]) -> Loc:
    """Location of the deepest part of ``start + rel`` that is set (null counts as not set)."""
    for size in range(len(rel), -1, -1):
        for path, value in resolve(resource, start, rel[:size]):
            if value is not None:
                return resource.loc_of(path)
    return (resource.file, resource.line)


def _strong(witnesses: list[Witness]) -> bool:
    return any(message != "" for _, message in witnesses)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _split_view(rel: tuple[str | int, ...]) -> tuple[str | None, tuple[str | int, ...]]:
    if rel and isinstance(rel[0], str) and rel[0].startswith("@"):
        return rel[0][1:], rel[1:]
    return None, rel


def _view_base(resource: Resource, view: str | None, base: Path) -> Path | None:
    if view is None:
        return base
    views = resource.meta.get("views") or {}
    found = views.get(view)
    if found is None:
        return None
    if isinstance(found, list):
        return found[0] if found else None
    return tuple(found)


def _view_bases(resource: Resource, view: str) -> list[Path]:
    views = resource.meta.get("views") or {}
    found = views.get(view)
    if found is None:
        return []
    if isinstance(found, list):
        return [tuple(f) for f in found]
    return [tuple(found)]


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower()
    return value


def _eq(a: Any, b: Any) -> bool:
    if isinstance(b, bool):
        if isinstance(a, str) and a.strip().lower() in ("true", "false"):
            return (a.strip().lower() == "true") == b
        return a is b
    if isinstance(b, int | float) and not isinstance(b, bool):
        if isinstance(a, str):
            try:
                return float(a) == float(b)
            except ValueError:
                return False
        return isinstance(a, int | float) and not isinstance(a, bool) and float(a) == float(b)
    if isinstance(b, str) and isinstance(a, str):
        return bool(_norm(a) == _norm(b))
    return bool(a == b)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "off", "disabled")
    return bool(value)


def _leaf_test(
    op: str, operand: Any, spec: dict[str, Any], compiler: Compiler
) -> Callable[[Any], bool | None]:
    def unknown_guard(function: Callable[[Any], bool | None]) -> Callable[[Any], bool | None]:
        def guarded(value: Any) -> bool | None:
            if isinstance(value, Unknown):
                return None
            return function(value)

        return guarded

    if op == "exists":
        return lambda v: v is not None
    if op == "equals":
        return unknown_guard(lambda v: _eq(v, operand))
    if op == "not_equals":
        return unknown_guard(lambda v: not _eq(v, operand))
    if op == "in":
        options = _list(operand)
        return unknown_guard(lambda v: any(_eq(v, o) for o in options))
    if op == "not_in":
        options = _list(operand)
        return unknown_guard(lambda v: not any(_eq(v, o) for o in options))
    if op in ("matches", "not_matches"):
        try:
            pattern = re.compile(
                str(operand), re.IGNORECASE if spec.get("ignore_case", True) else 0
            )
        except re.error as error:
            raise compiler.fail(f"bad regular expression {operand!r}: {error}") from error
        negate = op == "not_matches"

        def match(v: Any) -> bool | None:
            if not isinstance(v, str | int | float):
                return None if isinstance(v, Unknown) else negate
            found = pattern.search(str(v)) is not None
            return found != negate

        return unknown_guard(match)
    if op == "truthy":
        return unknown_guard(lambda v: _truthy(v) == bool(operand))
    if op == "falsy":
        return unknown_guard(lambda v: (not _truthy(v)) == bool(operand))
    if op in ("empty", "not_empty"):
        want_empty = (op == "empty") == bool(operand)

        def is_empty(v: Any) -> bool | None:
            empty = v in (None, "", [], {})
            return empty == want_empty

        return unknown_guard(is_empty)
    if op in ("gt", "gte", "lt", "lte"):
        limit = float(operand)

        def compare(v: Any) -> bool | None:
            try:
                number = float(v)
            except (TypeError, ValueError):
                return None
            return {
                "gt": number > limit,
                "gte": number >= limit,
                "lt": number < limit,
                "lte": number <= limit,
            }[op]

        return unknown_guard(compare)
    if op in ("contains", "contains_any"):
        wanted = _list(operand)

        def contains(v: Any) -> bool | None:
            items = v if isinstance(v, list) else [v]
            for item in items:
                if any(_eq(item, w) for w in wanted):
                    return True
            if any(isinstance(i, Unknown) for i in items):
                return None
            return False

        return unknown_guard(contains)
    if op == "world":
        return lambda v: network.any_world(v) if operand else _neg(network.any_world(v))
    if op == "world_lenient":
        return lambda v: network.any_world(v, lenient=True)
    if op == "covers_port":
        port = int(operand)
        return lambda v: network.port_spec_covers(v, port)
    if op == "starts_with":
        prefix = str(operand).lower()
        return unknown_guard(lambda v: isinstance(v, str) and v.lower().startswith(prefix))
    if op == "type_is":
        kinds = {"list": list, "map": dict, "string": str, "bool": bool}
        wanted_type = kinds[str(operand)]
        return unknown_guard(lambda v: isinstance(v, wanted_type))
    raise compiler.fail(f"unknown operator {op}")


def _neg(value: bool | None) -> bool | None:
    return None if value is None else not value


def _all(parts: list[Condition]) -> Condition:
    def run(ctx: Context, resource: Resource, base: Path) -> Outcome:
        unknown = False
        strong: list[Witness] = []
        weak: list[Witness] = []
        for part in parts:
            result, witnesses = part(ctx, resource, base)
            if result is False:
                return FALSE
            if result is None:
                unknown = True
            elif witnesses:
                # Point where the last member matched a value that is set; else where it is missing.
                if _strong(witnesses):
                    strong = witnesses
                else:
                    weak = witnesses
        return UNKNOWN if unknown else (True, strong or weak)

    return run


def _any(parts: list[Condition]) -> Condition:
    def run(ctx: Context, resource: Resource, base: Path) -> Outcome:
        unknown = False
        found: list[Witness] = []
        matched = False
        for part in parts:
            result, witnesses = part(ctx, resource, base)
            if result:
                matched = True
                found.extend(witnesses)
            elif result is None:
                unknown = True
        if matched:
            return True, found
        return UNKNOWN if unknown else FALSE

    return run


def _not(part: Condition) -> Condition:
    def run(ctx: Context, resource: Resource, base: Path) -> Outcome:
        result, _ = part(ctx, resource, base)
        if result is None:
            return UNKNOWN
        return (False, []) if result else (True, [])

    return run


def _iterate(target: str, inner: Condition, every: bool) -> Condition:
    absolute = target.startswith("/")
    rel = parse_path(target.lstrip("/"))
    view, rel = _split_view(rel)

    def bases(resource: Resource, base: Path) -> list[Path]:
        if view is not None and not rel:
            return _view_bases(resource, view)
        if view is not None:
            out: list[Path] = []
            for start in _view_bases(resource, view):
                out.extend(elements(resource, start, rel))
            return out
        return elements(resource, () if absolute else base, rel)

    def run(ctx: Context, resource: Resource, base: Path) -> Outcome:
        items = bases(resource, base)
        if every:
            if not items:
                return FALSE
            witnesses: list[Witness] = []
            unknown = False
            for item in items:
                result, found = inner(ctx, resource, item)
                if result is False:
                    return FALSE
                if result is None:
                    unknown = True
                witnesses.extend(found or [(resource.loc_of(item), None)])
            return UNKNOWN if unknown else (True, witnesses)
        witnesses = []
        unknown = False
        for item in items:
            result, found = inner(ctx, resource, item)
            if result:
                # Within an element that exists, even "missing here" is a precise place.
                witnesses.extend((loc, None if m == "" else m) for loc, m in found)
                if not found:
                    witnesses.append((resource.loc_of(item), None))
            elif result is None:
                unknown = True
        if witnesses:
            return True, witnesses
        return UNKNOWN if unknown else FALSE

    return run


def _related(types: list[Any], via: list[Any], match: Condition | None) -> Condition:
    type_names = [str(t) for t in types]
    attributes = [parse_path(str(v)) for v in via]

    def run(ctx: Context, resource: Resource, base: Path) -> Outcome:
        unknown = False
        witnesses: list[Witness] = []
        for other in ctx.related(resource, type_names, attributes):
            if match is None:
                witnesses.append(((other.file, other.line), None))
                continue
            result, found = match(ctx, other, ())
            if result:
                witnesses.extend(found or [((other.file, other.line), None)])
            elif result is None:
                unknown = True
        if witnesses:
            return True, witnesses
        return UNKNOWN if unknown else FALSE

    return run


def _linked(name: str, match: Condition, missing_fails: bool) -> Condition:
    def run(ctx: Context, resource: Resource, base: Path) -> Outcome:
        links = (resource.meta.get("links") or {}).get(name)
        if not links:
            return (True, []) if missing_fails else FALSE
        witnesses: list[Witness] = []
        unknown = False
        for other in links:
            result, found = match(ctx, other, ())
            if result:
                witnesses.extend(found or [((other.file, other.line), None)])
            elif result is None:
                unknown = True
        if witnesses:
            return True, witnesses
        return UNKNOWN if unknown else FALSE

    return run


def _iam(path_text: str, match: Condition) -> Condition:
    rel = parse_path(path_text)

    def run(ctx: Context, resource: Resource, base: Path) -> Outcome:
        if path_text == "statement":
            documents: list[tuple[Path, Any]] = [((), iam.document_statements(resource.attrs))]
        else:
            documents = [(p, _statements(ctx, v)) for p, v in resolve(resource, base, rel)]
        unknown = False
        witnesses: list[Witness] = []
        for path, found in documents:
            if isinstance(found, Unknown):
                unknown = True
                continue
            for statement in found or []:
                probe = Resource("iam_statement", "", "", resource.file, resource.line, statement)
                result, _ = match(ctx, probe, ())
                if result:
                    witnesses.append((resource.loc_of(path), None))
                    break
                if result is None:
                    unknown = True
        if witnesses:
            return True, witnesses
        return UNKNOWN if unknown else FALSE

    return run


def _statements(ctx: Context, value: Any) -> Any:
    found = iam.statements(value)
    if isinstance(found, Unknown):
        return iam.referenced_document(found, ctx.find)
    return found


def _python(function: Callable[..., Any], options: dict[str, Any]) -> Condition:
    def run(ctx: Context, resource: Resource, base: Path) -> Outcome:
        result: Any = function(ctx, resource, base, **options)
        if isinstance(result, tuple):
            return result
        return (result, []) if result is not None else UNKNOWN

    return run


def _port_range(
    low: tuple[str | int, ...],
    high: tuple[str | int, ...],
    protocol: tuple[str | int, ...],
    port: int,
) -> Condition:
    def run(ctx: Context, resource: Resource, base: Path) -> Outcome:
        low_v = resource.get((*base, *low))
        high_v = resource.get((*base, *high))
        proto = resource.get((*base, *protocol))
        if low_v is None and high_v is None and proto is None:
            return FALSE
        result = network.range_covers(low_v, high_v, port, proto)
        if result:
            # Without a port, "all protocols" is what opened it: point there.
            where = low if low_v is not None or proto is None else protocol
            return True, [(resource.loc_of((*base, *where)), None)]
        return UNKNOWN if result is None else FALSE

    return run


def references(value: Any) -> set[str]:
    return refs_in(value)
