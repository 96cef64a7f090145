"""Static evaluation of HCL expressions, with the location of every value.

``Evaluator.ev`` returns ``(value, loc)``. What cannot be known before apply (a resource's
``id``, a data source, a variable without value) evaluates to ``Unknown`` carrying the
addresses it refers to, which is how rules connect a bucket to its versioning resource.
Definite errors (a missing key, a wrong type) raise ``EvalError`` so ``try()`` and ``can()``
behave as in Terraform; elsewhere they turn into unknown values, never into a crash.

Every evaluation runs within the module's ``budget``: nesting, time and the size of every value
built here (strings joined by templates, tuples, objects, ``for`` results, function results)
are bounded, so that no input can hang a scan or exhaust its memory.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sentier.policy.confine import may_read
from sentier.policy.hcl.budget import (
    CLOCK_EVERY,
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_TEXT,
    WORD,
    BudgetExceeded,
    current,
)
from sentier.policy.hcl.functions import (
    ALWAYS_UNKNOWN,
    PASS_THROUGH,
    PLAIN,
    EvalError,
    fits_items,
    fits_number,
    fits_text,
)
from sentier.policy.hcl.syntax import Expr
from sentier.policy.hcl.values import (
    LDict,
    LList,
    member_loc,
    merge_unknown,
    to_bool,
    to_number,
    to_string,
)
from sentier.policy.model import Loc, Unknown

if TYPE_CHECKING:
    from sentier.policy.hcl.modules import ModuleInstance

MAX_FILE_BYTES = 1_000_000


class Scope:
    """Where an expression is evaluated: its module, its file and the names bound around it."""

    __slots__ = ("bindings", "file", "module")

    def __init__(
        self,
        module: ModuleInstance,
        file: str,
        bindings: dict[str, tuple[Any, Loc]] | None = None,
    ) -> None:
        self.module = module
        self.file = file
        self.bindings = bindings or {}

    def bind(self, **names: tuple[Any, Loc]) -> Scope:
        merged = dict(self.bindings)
        merged.update(names)
        return Scope(self.module, self.file, merged)


_ARITH = {"+", "-", "*", "/", "%"}
_COMPARE = {"<", ">", "<=", ">="}


@lru_cache(maxsize=4096)
def folder_of(path: str) -> str:
    """``os.path.dirname``, remembered: asked for every attribute of every resource, of a few
    hundred distinct files."""
    return os.path.dirname(path)


def _is_literal(expr: Expr) -> bool:
    return bool(expr[0] == "lit")


class Evaluator:
    """Evaluates expressions of one module instance (shared by all its scopes)."""

    def __init__(self) -> None:
        self.budget = current()

    def ev(self, expr: Expr, scope: Scope) -> tuple[Any, Loc]:
        """``(value, loc)`` of ``expr``, within the budget: deeper than ``MAX_DEPTH`` or past
        the module's time or memory raises ``BudgetExceeded``, located here."""
        budget = self.budget
        budget.depth += 1
        try:
            # The one test on the hot path; the clock is read by loops and function calls.
            if budget.depth > MAX_DEPTH:
                budget.checkpoint()
            kind = expr[0]
            line = expr[1]
            here = (scope.file, line)
            if kind == "lit":
                return expr[2], here
            if kind in ("var", "getattr", "index"):
                return self.traversal(expr, scope)
            if kind == "template":
                parts: list[str] = []
                unknowns: list[Any] = []
                length = 0
                for piece in expr[2]:
                    if isinstance(piece, str):
                        parts.append(piece)
                        length += len(piece)
                        continue
                    value, _ = self.ev(piece, scope)
                    text = to_string(value)
                    if isinstance(text, Unknown):
                        unknowns.append(value if isinstance(value, Unknown) else text)
                    else:
                        parts.append(text)
                        length += len(text)
                if unknowns:
                    return merge_unknown(*unknowns), here
                if length > MAX_TEXT:
                    fits_text(length, "template")
                budget.memory -= length
                if budget.memory < 0:
                    budget.claim(0)
                return "".join(parts), here
            if kind == "tuple":
                out = LList()
                for item in expr[2]:
                    value, loc = self.ev(item, scope)
                    out.append(value)
                    out.locs.append(loc)
                budget.memory -= WORD * (len(out) + 1)
                if budget.memory < 0:
                    budget.claim(0)
                return out, here
            if kind == "object":
                obj = LDict()
                for key_expr, value_expr, elem_line in expr[2]:
                    key, _ = self.ev(key_expr, scope)
                    if isinstance(key, Unknown):
                        return Unknown(key.refs, "unknown object key"), here
                    value, loc = self.ev(value_expr, scope)
                    key_text = to_string(key)
                    if isinstance(key_text, Unknown):
                        raise EvalError("object key is not a string")
                    obj[key_text] = value
                    obj.locs[key_text] = loc if loc[1] else (scope.file, elem_line)
                budget.memory -= WORD * (len(obj) + 1)
                if budget.memory < 0:
                    budget.claim(0)
                return obj, here
            if kind == "call":
                return self.call(expr, scope)
            if kind == "cond":
                return self.conditional(expr, scope)
            if kind == "binop":
                return self.binop(expr, scope)
            if kind == "unop":
                value, loc = self.ev(expr[3], scope)
                if isinstance(value, Unknown):
                    return value, loc
                if expr[2] == "!":
                    flag = to_bool(value)
                    return (flag if isinstance(flag, Unknown) else not flag), loc
                number = to_number(value)
                return (number if isinstance(number, Unknown) else fits_number(-number)), loc
            if kind == "tif":
                flag, _ = self.ev(expr[2], scope)
                flag = to_bool(flag)
                if isinstance(flag, Unknown):
                    return Unknown(flag.refs, "unknown template condition"), here
                value, _ = self.ev(expr[3] if flag else expr[4], scope)
                return to_string(value), here
            if kind == "tfor":
                return self.template_for(expr, scope)
            if kind == "splat":
                return self.splat(expr, scope)
            if kind == "fortuple" or kind == "forobj":
                return self.for_expr(expr, scope)
            if kind == "unknown":
                return Unknown(reason=str(expr[2])), here
            raise EvalError(f"unsupported expression {kind}")
        except BudgetExceeded as error:
            error.locate(scope.file, expr[1])
            raise
        finally:
            budget.depth -= 1

    # -- references -------------------------------------------------------------------------

    def traversal(self, expr: Expr, scope: Scope) -> tuple[Any, Loc]:
        steps: list[tuple[str, Any, int]] = []
        node = expr
        while node[0] in ("getattr", "index"):
            if node[0] == "getattr":
                steps.append(("attr", node[3], node[1]))
            else:
                steps.append(("index", node[3], node[1]))
            node = node[2]
        steps.reverse()
        if node[0] != "var":
            value, loc = self.ev(node, scope)
            return self.apply_steps(value, loc, steps, scope)
        root = node[2]
        here = (scope.file, node[1])
        bound = scope.bindings.get(root)
        if bound is not None:
            return self.apply_steps(bound[0], bound[1], steps, scope)
        module = scope.module
        if root in ("var", "local", "module", "data"):
            if not steps or steps[0][0] != "attr":
                return Unknown(reason=f"bare {root}"), here
            name = steps[0][1]
            rest = steps[1:]
            if root == "var":
                value, loc = module.variable(name)
                return self.apply_steps(value, loc, rest, scope)
            if root == "local":
                value, loc = module.local(name)
                return self.apply_steps(value, loc, rest, scope)
            if root == "module":
                return module.module_output(self, name, rest, scope, here)
            if not rest or rest[0][0] != "attr":
                return Unknown(reason="bare data source"), here
            address = f"{module.prefix}data.{name}.{rest[0][1]}"
            return Unknown(frozenset({address})), here
        if root == "path":
            paths = LDict({"module": module.dir, "root": module.root_dir, "cwd": module.root_dir})
            return self.apply_steps(paths, here, steps, scope)
        if root == "terraform":
            return self.apply_steps(LDict({"workspace": "default"}), here, steps, scope)
        if root in ("count", "each", "self"):
            return Unknown(reason=f"{root} outside its block"), here
        if steps and steps[0][0] == "attr":
            address = f"{module.prefix}{root}.{steps[0][1]}"
            return Unknown(frozenset({address})), here
        return Unknown(reason=f"unknown name {root}"), here

    def apply_steps(
        self, value: Any, loc: Loc, steps: list[tuple[str, Any, int]], scope: Scope
    ) -> tuple[Any, Loc]:
        for step_kind, key, _line in steps:
            if isinstance(value, Unknown):
                return value, loc
            if step_kind == "attr":
                if isinstance(value, dict):
                    if key not in value:
                        raise EvalError(f"no attribute {key!r}")
                    loc = member_loc(value, key, loc)
                    value = value[key]
                    continue
                if value is None:
                    raise EvalError(f"attribute {key!r} of null")
                raise EvalError(f"attribute {key!r} of a {type(value).__name__}")
            index_value, _ = self.ev(key, scope)
            if isinstance(index_value, Unknown):
                return Unknown(index_value.refs, "unknown index"), loc
            if isinstance(value, list):
                number = to_number(index_value)
                if isinstance(number, Unknown) or int(number) >= len(value) or int(number) < 0:
                    raise EvalError("index out of range")
                loc = member_loc(value, int(number), loc)
                value = value[int(number)]
            elif isinstance(value, dict):
                text = to_string(index_value)
                if isinstance(text, Unknown) or text not in value:
                    raise EvalError(f"no key {index_value!r}")
                loc = member_loc(value, text, loc)
                value = value[text]
            else:
                raise EvalError("index of a scalar")
        return value, loc

    def splat(self, expr: Expr, scope: Scope) -> tuple[Any, Loc]:
        value, loc = self.ev(expr[2], scope)
        if isinstance(value, Unknown):
            return value, loc
        if value is None:
            return LList(), loc
        items = value if isinstance(value, list) else [value]
        out = LList()
        for index, item in enumerate(items):
            item_loc = member_loc(value, index, loc) if isinstance(value, list) else loc
            for op_kind, key in expr[3]:
                if isinstance(item, Unknown):
                    break
                if op_kind == "attr":
                    if not isinstance(item, dict) or key not in item:
                        item = Unknown(reason=f"no attribute {key}")
                        break
                    item_loc = member_loc(item, key, item_loc)
                    item = item[key]
                else:
                    item, item_loc = self.apply_steps(item, item_loc, [("index", key, 0)], scope)
            out.append(item)
            out.locs.append(item_loc)
        self.budget.claim(WORD * (len(out) + 1))
        return out, loc

    # -- operators --------------------------------------------------------------------------

    def conditional(self, expr: Expr, scope: Scope) -> tuple[Any, Loc]:
        cond_value, cond_loc = self.ev(expr[2], scope)
        flag = to_bool(cond_value)
        if isinstance(flag, Unknown):
            a, a_loc = self._safe(expr[3], scope)
            b, _ = self._safe(expr[4], scope)
            if not isinstance(a, Unknown) and a == b:
                return a, a_loc
            return merge_unknown(flag, a, b) if flag.refs else Unknown(
                reason="unknown condition"
            ), cond_loc
        chosen = expr[3] if flag else expr[4]
        value, loc = self.ev(chosen, scope)
        # A literal branch was picked by the condition: the condition is what a user changes.
        return value, (cond_loc if _is_literal(chosen) else loc)

    def _safe(self, expr: Expr, scope: Scope) -> tuple[Any, Loc]:
        try:
            return self.ev(expr, scope)
        except EvalError:
            return Unknown(reason="error"), (scope.file, expr[1])

    def binop(self, expr: Expr, scope: Scope) -> tuple[Any, Loc]:
        op = expr[2]
        here = (scope.file, expr[1])
        left, left_loc = self.ev(expr[3], scope)
        if op in ("&&", "||"):
            lflag = to_bool(left)
            if lflag is False and op == "&&":
                return False, left_loc
            if lflag is True and op == "||":
                return True, left_loc
            right, right_loc = self.ev(expr[4], scope)
            rflag = to_bool(right)
            if isinstance(lflag, Unknown) or isinstance(rflag, Unknown):
                if op == "&&" and rflag is False:
                    return False, right_loc
                if op == "||" and rflag is True:
                    return True, right_loc
                return merge_unknown(lflag, rflag), here
            return (lflag and rflag) if op == "&&" else (lflag or rflag), right_loc
        right, _ = self.ev(expr[4], scope)
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            return merge_unknown(left, right), here
        if op == "==":
            return _equal(left, right), left_loc
        if op == "!=":
            return not _equal(left, right), left_loc
        a, b = to_number(left), to_number(right)
        if isinstance(a, Unknown) or isinstance(b, Unknown):
            raise EvalError(f"operator {op} needs numbers")
        if op in _COMPARE:
            return (
                {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op],
                left_loc,
            )
        if op == "+":
            return fits_number(a + b), here
        if op == "-":
            return fits_number(a - b), here
        if op == "*":
            if isinstance(a, int) and isinstance(b, int):
                fits_number(1 << (a.bit_length() + b.bit_length()))  # before multiplying
            return fits_number(a * b), here
        if b == 0:
            raise EvalError("division by zero")
        if op == "/":
            try:
                result = a / b
            except OverflowError as error:
                raise EvalError("number out of range") from error
            return (int(result) if float(result).is_integer() else result), here
        return a % b, here

    # -- for expressions --------------------------------------------------------------------

    def template_for(self, expr: Expr, scope: Scope) -> tuple[Any, Loc]:
        """``%{ for k, v in xs }...%{ endfor }``: the body once per element, joined."""
        here = (scope.file, expr[1])
        key_var, value_var, coll_expr, body = expr[2], expr[3], expr[4], expr[5]
        collection, coll_loc = self.ev(coll_expr, scope)
        if isinstance(collection, Unknown):
            return collection, here
        if isinstance(collection, dict):
            pairs = [(k, collection[k]) for k in sorted(collection, key=str)]
        elif isinstance(collection, list):
            pairs = list(enumerate(collection))
        else:
            raise EvalError("template for over a scalar")
        parts: list[str] = []
        length = 0
        for key, value in pairs:
            self.budget.step()
            bindings = {value_var: (value, member_loc(collection, key, coll_loc))}
            if key_var:
                bindings[key_var] = (key, coll_loc)
            text, _ = self.ev(body, scope.bind(**bindings))
            text = to_string(text)
            if isinstance(text, Unknown):
                return text, here
            length += len(text)
            fits_text(length, "template for")
            parts.append(text)
        self.budget.claim(length)
        return "".join(parts), here

    def for_expr(self, expr: Expr, scope: Scope) -> tuple[Any, Loc]:
        here = (scope.file, expr[1])
        key_var, value_var, coll_expr = expr[2], expr[3], expr[4]
        collection, coll_loc = self.ev(coll_expr, scope)
        if isinstance(collection, Unknown):
            return collection, here
        if collection is None:
            raise EvalError("for over null")
        if isinstance(collection, dict):
            pairs = [
                (k, collection[k], member_loc(collection, k, coll_loc))
                for k in sorted(collection, key=str)
            ]
        elif isinstance(collection, list):
            pairs = [(i, v, member_loc(collection, i, coll_loc)) for i, v in enumerate(collection)]
        else:
            raise EvalError("for over a scalar")
        is_object = expr[0] == "forobj"
        out_list = LList()
        out_dict = LDict()
        for key, value, loc in pairs:
            self.budget.step()
            bindings = {value_var: (value, loc)}
            if key_var:
                bindings[key_var] = (key, loc)
            inner = scope.bind(**bindings)
            cond = expr[7] if is_object else expr[6]
            if cond is not None:
                flag, _ = self.ev(cond, inner)
                flag = to_bool(flag)
                if isinstance(flag, Unknown):
                    return Unknown(flag.refs, "unknown for condition"), here
                if not flag:
                    continue
            if is_object:
                k, _ = self.ev(expr[5], inner)
                v, v_loc = self.ev(expr[6], inner)
                if isinstance(k, Unknown):
                    return Unknown(k.refs, "unknown for key"), here
                k_text = to_string(k)
                if isinstance(k_text, Unknown):
                    raise EvalError("for key is not a string")
                if expr[8]:
                    group = out_dict.setdefault(k_text, LList())
                    group.append(v)
                    group.locs.append(v_loc)
                    out_dict.locs.setdefault(k_text, v_loc)
                else:
                    out_dict[k_text] = v
                    out_dict.locs[k_text] = v_loc
            else:
                v, v_loc = self.ev(expr[5], inner)
                out_list.append(v)
                out_list.locs.append(v_loc)
        result = out_dict if is_object else out_list
        self.budget.claim(WORD * (len(result) + 1))
        return result, here

    # -- functions --------------------------------------------------------------------------

    def call(self, expr: Expr, scope: Scope) -> tuple[Any, Loc]:
        name: str = expr[2]
        arg_exprs: list[Expr] = expr[3]
        here = (scope.file, expr[1])
        if "::" in name:
            return Unknown(reason=f"provider function {name}"), here
        if name == "try":
            for arg in arg_exprs:
                try:
                    return self.ev(arg, scope)
                except EvalError:
                    continue
            raise EvalError("no expression given to try() succeeded")
        if name == "can":
            try:
                value, _ = self.ev(arg_exprs[0], scope) if arg_exprs else (None, here)
            except EvalError:
                return False, here
            return (value if isinstance(value, Unknown) else True), here
        if name in ALWAYS_UNKNOWN:
            return Unknown(reason=f"{name}() is known only at apply"), here
        args = [self.ev(a, scope) for a in arg_exprs]
        if expr[4] and args:
            last, last_loc = args.pop()
            if isinstance(last, Unknown):
                return last, here
            if isinstance(last, list):
                args.extend((item, member_loc(last, i, last_loc)) for i, item in enumerate(last))
        values = [a[0] for a in args]
        special = _SPECIAL.get(name)
        if special is not None:
            made = special(self, args, scope, here)
            self._made(made[0], name, values)
            return made
        function = PLAIN.get(name)
        if function is None:
            return Unknown(reason=f"function {name}() not evaluated"), here
        if name not in ("jsonencode", "yamlencode", "contains", "alltrue", "anytrue"):
            for value in values:
                if isinstance(value, Unknown):
                    return merge_unknown(*values), here
        try:
            result = function(*values)
        except EvalError:
            raise
        except RecursionError as error:
            raise EvalError(f"{name}(): values nested too deeply") from error
        except (
            TypeError,
            ValueError,
            KeyError,
            IndexError,
            ZeroDivisionError,
            AttributeError,
            OverflowError,
        ) as error:
            raise EvalError(f"{name}(): {error}") from error
        self._made(result, name, values)
        if name in PASS_THROUGH and args:
            return result, args[0][1]
        return result, here

    def _made(self, value: Any, name: str, arguments: list[Any]) -> None:
        """A function's result: within the bounds of one value, and paid for unless it is
        one of its arguments passed through (``lookup``, ``tostring``...); a function call is
        also where the clock is read, now and then."""
        budget = self.budget
        budget.steps += 1
        if not budget.steps & CLOCK_EVERY:
            budget.checkpoint()
        if isinstance(value, str):
            size = len(value)
            if size > MAX_TEXT:
                fits_text(size, f"{name}()")
        elif isinstance(value, list | dict):
            if len(value) > MAX_ITEMS:
                fits_items(len(value), f"{name}()")
            size = WORD * (len(value) + 1)
        else:
            if isinstance(value, int | float) and not isinstance(value, bool):
                fits_number(value)
            return
        for argument in arguments:
            if value is argument:
                return
        budget.memory -= size
        if budget.memory < 0:
            budget.claim(0)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


# -- functions that keep locations or touch files ------------------------------------------

Args = list[tuple[Any, Loc]]


def _lookup(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    if len(args) < 2:
        raise EvalError("lookup needs a map and a key")
    (mapping, map_loc), (key, _) = args[0], args[1]
    if isinstance(mapping, Unknown) or isinstance(key, Unknown):
        return merge_unknown(mapping, key), here
    if not isinstance(mapping, dict):
        raise EvalError("lookup needs a map")
    text = to_string(key)
    if not isinstance(text, Unknown) and text in mapping:
        return mapping[text], member_loc(mapping, text, map_loc)
    if len(args) >= 3:
        default, default_loc = args[2]
        # A default computed from the caller's values keeps its origin; a literal default
        # means the key is missing from the map, which is then the place to change.
        if folder_of(default_loc[0]) != scope.module.dir:
            return default, default_loc
        return default, map_loc
    raise EvalError(f"lookup: no key {key!r}")


def _merge(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    out = LDict()
    for value, loc in args:
        if isinstance(value, Unknown):
            return value, here
        if value is None:
            continue
        if not isinstance(value, dict):
            raise EvalError("merge needs maps")
        for key, item in value.items():
            out[key] = item
            out.locs[key] = member_loc(value, key, loc)
    return out, here


def _concat(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    out = LList()
    fits_items(sum(len(v) for v, _ in args if isinstance(v, list)), "concat()")
    for value, loc in args:
        if isinstance(value, Unknown):
            return value, here
        if not isinstance(value, list):
            raise EvalError("concat needs lists")
        for index, item in enumerate(value):
            out.append(item)
            out.locs.append(member_loc(value, index, loc))
    return out, here


def _coalesce(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    for value, loc in args:
        if isinstance(value, Unknown):
            return value, here
        if value is not None and value != "":
            return value, loc
    raise EvalError("coalesce: no non-null argument")


def _one(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    value, loc = args[0]
    if isinstance(value, Unknown):
        return value, here
    if not isinstance(value, list) or len(value) > 1:
        raise EvalError("one() needs a list of at most one element")
    if not value:
        return None, loc
    return value[0], member_loc(value, 0, loc)


def _element(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    (value, loc), (index, _) = args[0], args[1]
    if isinstance(value, Unknown) or isinstance(index, Unknown):
        return merge_unknown(value, index), here
    if not isinstance(value, list) or not value:
        raise EvalError("element needs a non-empty list")
    position = int(index) % len(value)
    return value[position], member_loc(value, position, loc)


def _resolve_file(scope: Scope, raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    path = raw if os.path.isabs(raw) else os.path.join(scope.module.dir, raw)
    return os.path.normpath(path)


def _read(path: str) -> str | None:
    if not may_read(path):
        return None
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            return None
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _file(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    value = args[0][0] if args else None
    if isinstance(value, Unknown):
        return value, here
    path = _resolve_file(scope, value)
    text = _read(path) if path else None
    if text is None:
        return Unknown(reason=f"file {value!r} not readable"), here
    return text, here


def _fileexists(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    value = args[0][0] if args else None
    if isinstance(value, Unknown):
        return value, here
    path = _resolve_file(scope, value)
    if path and not may_read(path):
        return Unknown(reason=f"file {value!r} outside the locations this scan may read"), here
    return bool(path and os.path.isfile(path)), here


def _templatefile(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    from sentier.policy.hcl.syntax import parse_bytes

    (raw, _), variables = args[0], (args[1][0] if len(args) > 1 else {})
    if isinstance(raw, Unknown) or isinstance(variables, Unknown):
        return merge_unknown(raw, variables), here
    path = _resolve_file(scope, raw)
    text = _read(path) if path else None
    if text is None or not isinstance(variables, dict):
        return Unknown(reason=f"template {raw!r} not readable"), here
    marker = "SENTIER_TEMPLATE_END_7f3a"
    parsed = parse_bytes(f"t = <<{marker}\n{text}\n{marker}\n".encode(), path or "<template>")
    attribute = parsed.body.attributes.get("t")
    if attribute is None:
        return Unknown(reason="template not parsable"), here
    bindings = {str(k): (v, here) for k, v in variables.items()}
    value, _ = ev.ev(attribute.expr, scope.bind(**bindings))
    if isinstance(value, str) and value.endswith("\n") and not text.endswith("\n"):
        value = value[:-1]
    return value, here


def _tolist_located(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    value, loc = args[0]
    if isinstance(value, Unknown):
        return value, loc
    if isinstance(value, list):
        return value, loc
    raise EvalError("tolist needs a list")


def _sensitive(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    return args[0] if args else (None, here)


def _keys_located(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    value, loc = args[0]
    if isinstance(value, Unknown):
        return value, here
    if not isinstance(value, dict):
        raise EvalError("keys needs a map")
    ordered = sorted(value.keys(), key=str)
    return LList(ordered, [member_loc(value, k, loc) for k in ordered]), loc


def _values_located(ev: Evaluator, args: Args, scope: Scope, here: Loc) -> tuple[Any, Loc]:
    value, loc = args[0]
    if isinstance(value, Unknown):
        return value, here
    if not isinstance(value, dict):
        raise EvalError("values needs a map")
    ordered = sorted(value.keys(), key=str)
    return LList([value[k] for k in ordered], [member_loc(value, k, loc) for k in ordered]), loc


_SPECIAL = {
    "lookup": _lookup,
    "merge": _merge,
    "concat": _concat,
    "coalesce": _coalesce,
    "one": _one,
    "element": _element,
    "file": _file,
    "fileexists": _fileexists,
    "templatefile": _templatefile,
    "tolist": _tolist_located,
    "sensitive": _sensitive,
    "nonsensitive": _sensitive,
    "keys": _keys_located,
    "values": _values_located,
}
