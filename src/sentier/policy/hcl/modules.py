"""Terraform modules evaluated statically: variables, locals, resources, module calls.

A ``ModuleInstance`` is one module directory evaluated with one set of inputs (the root with
its tfvars, a local module with the inputs of its call, a public registry module from the
built-in table). Resources are expanded over ``count``/``for_each`` and ``dynamic`` blocks when
those are known; inputs flow into a module's resources with the location of the caller's line.

Each root module is evaluated within a ``budget``: a value past its bounds is unknown and
reported at its line; a module past its time, memory or depth is reported where evaluation
stopped, contributes no resources, and the scan goes on with the next one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sentier.policy.confine import OUTSIDE, may_read
from sentier.policy.hcl.budget import CLOCK_EVERY, WORD, BudgetExceeded, current, evaluating
from sentier.policy.hcl.evaluate import Evaluator, Scope, folder_of
from sentier.policy.hcl.functions import EvalError, ValueTooLarge
from sentier.policy.hcl.json_syntax import parse_json_file
from sentier.policy.hcl.syntax import Attribute, Block, Body, ParsedFile, parse_file
from sentier.policy.hcl.values import LDict, LList, member_loc, to_number, to_string
from sentier.policy.model import Loc, ParseProblem, Resource, Unknown

BUILTIN_DIR = str(Path(__file__).with_name("registry"))
TF_SUFFIXES = (".tf", ".tf.json")
MAX_DEPTH = 8
RESOURCE_META = frozenset(
    {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}
)
MODULE_META = frozenset({"source", "version", "count", "for_each", "providers", "depends_on"})
MAX_VALUE_NESTING = 64  # lists and maps within one another in a resource's attributes
STOPPED = (
    "Evaluation of this module was stopped and none of its resources were checked: make "
    "the expression named smaller or simpler (it is far beyond what real configurations need)."
)


@dataclass
class ModuleSource:
    """The parsed files of one module directory, indexed by block kind."""

    dir: str
    files: list[ParsedFile]
    variables: dict[str, tuple[Block, str]] = field(default_factory=dict)
    locals: dict[str, tuple[Attribute, str]] = field(default_factory=dict)
    outputs: dict[str, tuple[Attribute, str]] = field(default_factory=dict)
    resources: list[tuple[Block, str]] = field(default_factory=list)
    data: list[tuple[Block, str]] = field(default_factory=list)
    calls: list[tuple[Block, str]] = field(default_factory=list)
    providers: list[tuple[Block, str]] = field(default_factory=list)

    @classmethod
    def from_files(cls, directory: str, files: list[ParsedFile]) -> ModuleSource:
        source = cls(directory, files)
        for parsed in files:
            for block in parsed.body.blocks:
                kind, labels = block.type, block.labels
                if kind == "resource" and len(labels) >= 2:
                    source.resources.append((block, parsed.path))
                elif kind == "data" and len(labels) >= 2:
                    source.data.append((block, parsed.path))
                elif kind == "module" and labels:
                    source.calls.append((block, parsed.path))
                elif kind == "variable" and labels:
                    source.variables[labels[0]] = (block, parsed.path)
                elif kind == "locals":
                    for name, attribute in block.body.attributes.items():
                        source.locals[name] = (attribute, parsed.path)
                elif kind == "output" and labels:
                    value = block.body.attributes.get("value")
                    if value is not None:
                        source.outputs[labels[0]] = (value, parsed.path)
                elif kind == "provider" and labels:
                    source.providers.append((block, parsed.path))
        return source


class Loader:
    """Parses each file once and each module directory once, however often it is called."""

    def __init__(self) -> None:
        self.parsed: dict[str, ParsedFile] = {}
        self.sources: dict[tuple[str, tuple[str, ...]], ModuleSource] = {}
        self.problems: list[ParseProblem] = []
        self.reported: set[str] = set()
        self._said: set[tuple[str, int, str]] = set()

    def report(self, file: str, line: int, message: str, remediation: str = "") -> None:
        """A located problem found while evaluating, once however often it is met."""
        if (file, line, message) not in self._said:
            self._said.add((file, line, message))
            self.problems.append(ParseProblem(file, line, message, remediation=remediation))

    def parse(self, path: str) -> ParsedFile:
        parsed = self.parsed.get(path)
        if parsed is None and not path.startswith(BUILTIN_DIR) and not may_read(path):
            parsed = ParsedFile(path, Body(), [ParseProblem(path, 1, OUTSIDE)], [])
            self.parsed[path] = parsed
        if parsed is None:
            try:
                parsed = parse_json_file(path) if path.endswith(".json") else parse_file(path)
            except OSError as error:
                parsed = ParsedFile(
                    path, Body(), [ParseProblem(path, 1, f"cannot read: {error}")], []
                )
            self.parsed[path] = parsed
        if path not in self.reported and not path.startswith(BUILTIN_DIR):
            self.reported.add(path)
            self.problems.extend(parsed.problems)
        return parsed

    def module_source(self, directory: str, only: tuple[str, ...] = ()) -> ModuleSource:
        key = (directory, only)
        source = self.sources.get(key)
        if source is None:
            names = list(only) if only else tf_files(directory)
            files = [self.parse(os.path.join(directory, n)) for n in names]
            source = ModuleSource.from_files(directory, files)
            self.sources[key] = source
        return source


def tf_files(directory: str) -> list[str]:
    try:
        with os.scandir(directory) as entries:
            return sorted(e.name for e in entries if e.name.endswith(TF_SUFFIXES) and e.is_file())
    except OSError:
        return []


@lru_cache(maxsize=1)
def _registry() -> dict[str, list[dict[str, Any]]]:
    import yaml

    with open(os.path.join(BUILTIN_DIR, "registry.yaml"), encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return dict(data.get("modules", {}))


def _version_tuple(text: str) -> tuple[int, ...] | None:
    match = re.search(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    if not match:
        return None
    return tuple(int(g) if g else 0 for g in match.groups())


def registry_dir(source: str, version: str | None) -> str | None:
    """The built-in module directory for a public registry source, honouring its version."""
    clean = source.removeprefix("registry.terraform.io/").split("?", 1)[0]
    submodule = ""
    if "//" in clean:
        clean, submodule = clean.split("//", 1)
    entries = _registry().get(clean.lower())
    if not entries:
        return None
    wanted = _version_tuple(version) if version else None
    for entry in entries:
        below = entry.get("below")
        if below and (wanted is None or wanted >= (_version_tuple(str(below)) or (0,))):
            continue
        directory = os.path.join(BUILTIN_DIR, str(entry["dir"]))
        if submodule:
            directory = os.path.join(directory, submodule)
        return directory if os.path.isdir(directory) else None
    return None


def _installed_modules(root_dir: str) -> dict[str, str]:
    """``.terraform/modules/modules.json`` (written by ``terraform init``): key -> directory."""
    manifest = os.path.join(root_dir, ".terraform", "modules", "modules.json")
    try:
        with open(manifest, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    out: dict[str, str] = {}
    for item in data.get("Modules", []) if isinstance(data, dict) else []:
        key, directory = item.get("Key"), item.get("Dir")
        if key and directory:
            out[str(key)] = os.path.normpath(os.path.join(root_dir, str(directory)))
    return out


class ModuleInstance:
    """One module directory evaluated with one set of inputs."""

    def __init__(
        self,
        loader: Loader,
        source: ModuleSource,
        *,
        root_dir: str,
        inputs: dict[str, tuple[Any, Loc]] | None = None,
        parent: ModuleInstance | None = None,
        call_loc: Loc | None = None,
        module_path: str = "",
        key_path: str = "",
        builtin: bool = False,
        providers: dict[str, LDict] | None = None,
        depth: int = 0,
    ) -> None:
        self.loader = loader
        self.source = source
        self.dir = source.dir
        self.root_dir = root_dir
        self.inputs = inputs or {}
        self.parent = parent
        self.call_loc = call_loc
        self.module_path = module_path
        self.prefix = module_path + "." if module_path else ""
        self.key_path = key_path  # "vpc.subnets": the key .terraform/modules uses
        self.builtin = builtin
        self.depth = depth
        self.evaluator = Evaluator()
        self._vars: dict[str, tuple[Any, Loc]] = {}
        self._locals: dict[str, tuple[Any, Loc]] = {}
        self._outputs: dict[str, tuple[Any, Loc]] = {}
        self._in_progress: set[str] = set()
        self._children: dict[str, list[tuple[Any, ModuleInstance | None, Block, str]]] = {}
        self.providers: dict[str, LDict] = dict(providers or {})
        for block, path in source.providers:
            alias_attr = block.body.attributes.get("alias")
            name = block.labels[0]
            scope = Scope(self, path)
            config = self.eval_body(block.body, scope, top=False)
            if alias_attr is not None:
                alias, _ = self.safe_ev(alias_attr.expr, scope)
                name = f"{name}.{alias}"
            self.providers[name] = config

    # -- locations --------------------------------------------------------------------------

    def visible(self, loc: Loc) -> Loc:
        """Locations inside built-in registry modules are shown at the user's module call."""
        if self.builtin and loc[0].startswith(BUILTIN_DIR):
            if self.call_loc is None:
                return loc
            return self.parent.visible(self.call_loc) if self.parent else self.call_loc
        if self.parent is not None and loc[0].startswith(BUILTIN_DIR):
            return self.parent.visible(loc)
        return loc

    def choose_loc(self, value_loc: Loc, attribute_loc: Loc) -> Loc:
        """A value given by a caller points at the caller's line; others at the attribute."""
        if folder_of(value_loc[0]) != self.dir and not value_loc[0].startswith(BUILTIN_DIR):
            return value_loc
        return attribute_loc

    # -- names ------------------------------------------------------------------------------

    def safe_ev(self, expr: Any, scope: Scope) -> tuple[Any, Loc]:
        try:
            budget = self.evaluator.budget
            budget.steps += 1
            if not budget.steps & CLOCK_EVERY:
                budget.checkpoint()
            return self.evaluator.ev(expr, scope)
        except ValueTooLarge as error:
            file, line = self.visible((scope.file, expr[1]))
            self.loader.report(file, line, f"value too large, read as unknown: {error}")
            return Unknown(reason=str(error)), (scope.file, expr[1])
        except EvalError as error:
            return Unknown(reason=str(error)), (scope.file, expr[1])
        except BudgetExceeded as error:
            if error.file is not None and error.file.startswith(BUILTIN_DIR):
                error.file, error.line = self.visible((error.file, error.line))
            raise
        except RecursionError as error:
            # The depth bounds should come first; this is the last guard, not the rule.
            raise BudgetExceeded("expressions nested too deeply to evaluate") from error

    def variable(self, name: str) -> tuple[Any, Loc]:
        cached = self._vars.get(name)
        if cached is not None:
            return cached
        if name in self.inputs:
            result = self.inputs[name]
        else:
            found = self.source.variables.get(name)
            if found is None:
                result = (Unknown(reason=f"undeclared variable {name}"), (self.dir, 0))
            else:
                block, path = found
                default = block.body.attributes.get("default")
                if default is None:
                    result = (
                        Unknown(reason=f"variable {name} has no value"),
                        (path, block.line),
                    )
                else:
                    result = self.safe_ev(default.expr, Scope(self, path))
                    if result[0] is None:
                        result = (None, (path, default.line))
        self._vars[name] = result
        return result

    def local(self, name: str) -> tuple[Any, Loc]:
        cached = self._locals.get(name)
        if cached is not None:
            return cached
        found = self.source.locals.get(name)
        if found is None:
            raise EvalError(f"no local {name}")
        if name in self._in_progress:
            return Unknown(reason=f"cycle through local.{name}"), (found[1], found[0].line)
        self._in_progress.add(name)
        try:
            attribute, path = found
            result = self.safe_ev(attribute.expr, Scope(self, path))
        finally:
            self._in_progress.discard(name)
        self._locals[name] = result
        return result

    def output(self, name: str) -> tuple[Any, Loc]:
        cached = self._outputs.get(name)
        if cached is not None:
            return cached
        found = self.source.outputs.get(name)
        if found is None:
            raise EvalError(f"module has no output {name}")
        key = "output:" + name
        if key in self._in_progress:
            return Unknown(reason="cycle"), (found[1], found[0].line)
        self._in_progress.add(key)
        try:
            result = self.safe_ev(found[0].expr, Scope(self, found[1]))
        finally:
            self._in_progress.discard(key)
        self._outputs[name] = result
        return result

    def module_output(
        self, ev: Evaluator, name: str, steps: list[tuple[str, Any, int]], scope: Scope, here: Loc
    ) -> tuple[Any, Loc]:
        children = self.children(name)
        unknown = Unknown(frozenset({f"{self.prefix}module.{name}"}))
        if not children:
            return unknown, here
        keyed = children[0][0] is not None
        if keyed:
            if not steps or steps[0][0] != "index":
                return unknown, here
            key, _ = ev.ev(steps[0][1], scope)
            steps = steps[1:]
            match = [c for c in children if c[0] == key or str(c[0]) == str(key)]
            if not match:
                return unknown, here
            children = match
        instance = children[0][1]
        if instance is None or not steps or steps[0][0] != "attr":
            return unknown, here
        try:
            value, loc = instance.output(steps[0][1])
        except EvalError:
            return unknown, here
        if isinstance(value, Unknown) and not value.refs:
            value = unknown
        return ev.apply_steps(value, loc, steps[1:], scope)

    # -- module calls -----------------------------------------------------------------------

    def children(self, name: str) -> list[tuple[Any, ModuleInstance | None, Block, str]]:
        cached = self._children.get(name)
        if cached is not None:
            return cached
        found = next(((b, p) for b, p in self.source.calls if b.labels[0] == name), None)
        if found is None:
            self._children[name] = []
            return []
        self._children[name] = []  # guards against a call referring to its own outputs
        block, path = found
        out: list[tuple[Any, ModuleInstance | None, Block, str]] = []
        scope = Scope(self, path)
        for key, bindings in self.expand(block, scope):
            inner = scope.bind(**bindings) if bindings else scope
            out.append((key, self._instantiate(block, path, inner, key), block, path))
        self._children[name] = out
        return out

    def _instantiate(
        self, block: Block, path: str, scope: Scope, key: Any
    ) -> ModuleInstance | None:
        if self.depth >= MAX_DEPTH:
            return None
        source_attr = block.body.attributes.get("source")
        if source_attr is None:
            return None
        raw_source, _ = self.safe_ev(source_attr.expr, scope)
        if not isinstance(raw_source, str):
            return None
        version_attr = block.body.attributes.get("version")
        version = None
        if version_attr is not None:
            version_value, _ = self.safe_ev(version_attr.expr, scope)
            version = version_value if isinstance(version_value, str) else None
        name = block.labels[0]
        key_path = f"{self.key_path}.{name}" if self.key_path else name
        builtin = False
        directory: str | None = None
        if raw_source.startswith(("./", "../")) or raw_source in (".", ".."):
            directory = os.path.normpath(os.path.join(self.dir, raw_source))
            if self.builtin:
                builtin = True
        else:
            installed = _installed_modules(self.root_dir).get(key_path)
            if installed and os.path.isdir(installed):
                directory = installed
            else:
                directory = registry_dir(raw_source, version)
                builtin = directory is not None
        if directory is None or not os.path.isdir(directory):
            return None
        inputs: dict[str, tuple[Any, Loc]] = {}
        evaluated = self.eval_body(block.body, scope, top=False, skip=MODULE_META)
        for input_name, value in evaluated.items():
            inputs[input_name] = (value, evaluated.locs.get(input_name, (path, block.line)))
        providers = dict(self.providers)
        mapping_attr = block.body.attributes.get("providers")
        if mapping_attr is not None:
            providers.update(self._provider_mapping(mapping_attr, scope))
        suffix = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
        return ModuleInstance(
            self.loader,
            self.loader.module_source(directory),
            root_dir=self.root_dir,
            inputs=inputs,
            parent=self,
            call_loc=(path, block.line),
            module_path=f"{self.prefix}module.{name}{suffix}",
            key_path=key_path,
            builtin=builtin,
            providers=providers,
            depth=self.depth + 1,
        )

    def _provider_mapping(self, attribute: Attribute, scope: Scope) -> dict[str, LDict]:
        out: dict[str, LDict] = {}
        expr = attribute.expr
        if expr[0] != "object":
            return out
        for key_expr, value_expr, _line in expr[2]:
            key = key_expr[2] if key_expr[0] == "lit" else None
            target = _reference_text(value_expr)
            if isinstance(key, str) and target and target in self.providers:
                out[key] = self.providers[target]
        return out

    # -- expansion --------------------------------------------------------------------------

    def expand(
        self, block: Block, scope: Scope
    ) -> Iterator[tuple[Any, dict[str, tuple[Any, Loc]]]]:
        """Instances of a block: ``(key, bindings)``; one unkeyed instance without count."""
        attributes = block.body.attributes
        count_attr = attributes.get("count")
        each_attr = attributes.get("for_each")
        here = (scope.file, block.line)
        if count_attr is not None:
            value, loc = self.safe_ev(count_attr.expr, scope)
            number = to_number(value)
            if isinstance(number, Unknown) or not math.isfinite(number):
                yield 0, {"count": (LDict({"index": Unknown(reason="count unknown")}), loc)}
                return
            for index in range(min(int(number), 1000)):
                yield index, {"count": (LDict({"index": index}, locs={"index": loc}), loc)}
            return
        if each_attr is not None:
            value, loc = self.safe_ev(each_attr.expr, scope)
            if isinstance(value, Unknown) or value is None:
                each = LDict(
                    {
                        "key": Unknown(reason="for_each unknown"),
                        "value": Unknown(value.refs if isinstance(value, Unknown) else frozenset()),
                    }
                )
                yield "?", {"each": (each, loc)}
                return
            if isinstance(value, dict):
                items = [
                    (str(k), value[k], member_loc(value, k, loc)) for k in sorted(value, key=str)
                ]
            elif isinstance(value, list):
                items = []
                for index, item in enumerate(value):
                    text = to_string(item)
                    key = text if not isinstance(text, Unknown) else f"?{index}"
                    items.append((key, item, member_loc(value, index, loc)))
            else:
                return
            for key, item, item_loc in items[:1000]:
                each = LDict({"key": key, "value": item}, locs={"key": item_loc, "value": item_loc})
                yield key, {"each": (each, item_loc)}
            return
        del here
        yield None, {}

    def eval_body(
        self, body: Body, scope: Scope, *, top: bool, skip: frozenset[str] | None = None
    ) -> LDict:
        out = LDict()
        if skip is None:
            skip = RESOURCE_META if top else frozenset()
        for name, attribute in body.attributes.items():
            if name in skip:
                continue
            value, value_loc = self.safe_ev(attribute.expr, scope)
            out[name] = value
            out.locs[name] = self.choose_loc(value_loc, (scope.file, attribute.line))
        for block in body.blocks:
            kind = block.type
            if kind == "dynamic" and block.labels:
                self._dynamic(block, scope, out)
                continue
            if top and kind in ("lifecycle", "provisioner", "connection"):
                continue
            item = self.eval_body(block.body, scope, top=False)
            self._add_block(out, kind, item, (scope.file, block.line))
        return out

    @staticmethod
    def _add_block(out: LDict, kind: str, item: Any, loc: Loc) -> None:
        existing = out.get(kind)
        if not isinstance(existing, LList):
            existing = LList()
            out[kind] = existing
            out.locs[kind] = loc
        existing.append(item)
        existing.locs.append(loc)

    def _dynamic(self, block: Block, scope: Scope, out: LDict) -> None:
        kind = block.labels[0]
        iterator_attr = block.body.attributes.get("iterator")
        iterator = kind
        if iterator_attr is not None and iterator_attr.expr[0] == "var":
            iterator = iterator_attr.expr[2]
        content = next((b for b in block.body.blocks if b.type == "content"), None)
        if content is None:
            return
        each_attr = block.body.attributes.get("for_each")
        if each_attr is None:
            return
        value, loc = self.safe_ev(each_attr.expr, scope)
        if isinstance(value, Unknown):
            binding = LDict({"key": value, "value": value})
            item = self.eval_body(content.body, scope.bind(**{iterator: (binding, loc)}), top=False)
            self._add_block(out, kind, item, (scope.file, block.line))
            return
        if isinstance(value, dict):
            pairs = [(k, value[k], member_loc(value, k, loc)) for k in sorted(value, key=str)]
        elif isinstance(value, list):
            pairs = [(i, v, member_loc(value, i, loc)) for i, v in enumerate(value)]
        else:
            return
        for key, item_value, item_loc in pairs:
            binding = LDict(
                {"key": key, "value": item_value}, locs={"key": item_loc, "value": item_loc}
            )
            item = self.eval_body(
                content.body, scope.bind(**{iterator: (binding, item_loc)}), top=False
            )
            self._add_block(out, kind, item, (scope.file, block.line))

    # -- resources --------------------------------------------------------------------------

    def resources(self) -> list[Resource]:
        """Every resource, data source and module call of this instance and its children."""
        out: list[Resource] = []
        for block, path in self.source.resources:
            out.extend(self._instances(block, path, "resource"))
        for block, path in self.source.data:
            out.extend(self._instances(block, path, "data"))
        for block, _path in self.source.calls:
            name = block.labels[0]
            for key, child, call_block, call_path in self.children(name):
                out.append(self._module_resource(call_block, call_path, key, child))
                if child is not None:
                    out.extend(child.resources())
        return out

    def _instances(self, block: Block, path: str, kind: str) -> Iterator[Resource]:
        rtype, name = block.labels[0], block.labels[1]
        scope = Scope(self, path)
        base = f"{self.prefix}{'data.' if kind == 'data' else ''}{rtype}.{name}"
        provider_ref = block.body.attributes.get("provider")
        provider_name = _reference_text(provider_ref.expr) if provider_ref else None
        for key, bindings in self.expand(block, scope):
            inner = scope.bind(**bindings) if bindings else scope
            attrs = self.eval_body(block.body, inner, top=True)
            suffix = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
            yield self._make(
                rtype,
                name,
                base + suffix,
                base,
                path,
                block,
                attrs,
                kind,
                self._provider_config(rtype, provider_name),
            )

    def _provider_config(self, rtype: str, explicit: str | None) -> LDict | None:
        if explicit and explicit in self.providers:
            return self.providers[explicit]
        return self.providers.get(rtype.split("_", 1)[0])

    def _make(
        self,
        rtype: str,
        name: str,
        address: str,
        base: str,
        path: str,
        block: Block,
        attrs: LDict,
        kind: str,
        provider: LDict | None,
    ) -> Resource:
        file, line = self.visible((path, block.line))
        locs: dict[tuple[str | int, ...], Loc] = {}
        try:
            _flatten_locs(attrs, (), locs, self, current())
        except BudgetExceeded as error:
            error.locate(file, line)
            raise
        meta: dict[str, Any] = {"module_dir": self.dir}
        if provider is not None:
            meta["provider_config"] = provider
        if self.builtin:
            meta["registry_module"] = True
        return Resource(
            type=rtype,
            name=name,
            address=address,
            file=file,
            line=line,
            attrs=attrs,
            locs=locs,
            kind=kind,
            source="terraform",
            module_path=self.module_path,
            base_address=base,
            meta=meta,
            end_line=block.end_line if file == path else line,
        )

    def _module_resource(
        self, block: Block, path: str, key: Any, child: ModuleInstance | None
    ) -> Resource:
        scope = Scope(self, path)
        attrs = self.eval_body(
            block.body,
            scope,
            top=False,
            skip=frozenset({"count", "for_each", "providers", "depends_on"}),
        )
        name = block.labels[0]
        suffix = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
        base = f"{self.prefix}module.{name}"
        resource = self._make(
            "module", name, base + suffix, base, path, block, attrs, "module", None
        )
        resource.meta["resolved"] = child is not None
        if child is not None:
            resource.meta["module_dir"] = child.dir
        return resource


def _reference_text(expr: Any) -> str | None:
    parts: list[str] = []
    node = expr
    while node[0] == "getattr":
        parts.append(node[3])
        node = node[2]
    if node[0] != "var":
        return None
    parts.append(node[2])
    return ".".join(reversed(parts))


def _flatten_locs(
    value: Any,
    path: tuple[str | int, ...],
    locs: dict[tuple[str | int, ...], Loc],
    module: ModuleInstance,
    budget: Any,
) -> None:
    """Every member's location by path; walks every member, so it is paid for (a value sharing
    members over and over is as large here as it is to rules) and bounded in depth."""
    if len(path) > MAX_VALUE_NESTING:
        raise BudgetExceeded(
            f"an attribute holds lists or maps nested more than {MAX_VALUE_NESTING} deep "
            f"(at {'.'.join(str(p) for p in path[:3])}...)"
        )
    budget.steps += 1
    budget.memory -= WORD * len(value)
    if budget.memory < 0 or not budget.steps & CLOCK_EVERY:
        budget.claim(0)
        budget.checkpoint()
    if isinstance(value, LDict):
        for key, item in value.items():
            sub = (*path, key)
            loc = value.locs.get(key)
            if loc is not None and loc[1]:
                locs[sub] = module.visible(loc)
            if isinstance(item, dict | list):
                _flatten_locs(item, sub, locs, module, budget)
    elif isinstance(value, LList):
        for index, item in enumerate(value):
            sub = (*path, index)
            if index < len(value.locs) and value.locs[index][1]:
                locs[sub] = module.visible(value.locs[index])
            if isinstance(item, dict | list):
                _flatten_locs(item, sub, locs, module, budget)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                _flatten_locs(item, (*path, key), locs, module, budget)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                _flatten_locs(item, (*path, index), locs, module, budget)


def evaluate_root(
    loader: Loader,
    directory: str,
    *,
    only: tuple[str, ...] = (),
    var_files: list[str] | None = None,
) -> list[Resource]:
    """Evaluate a root module directory (or the given files of it) into resources.

    Within a fresh ``budget``: past it, the module is reported where evaluation stopped and
    yields no resources; the caller goes on with the next one.
    """
    source = loader.module_source(directory, only)
    with evaluating():
        try:
            inputs = _tfvars(loader, directory, var_files or [], auto=not only)
            root = ModuleInstance(loader, source, root_dir=directory, inputs=inputs)
            return root.resources()
        except BudgetExceeded as error:
            first = source.files[0].path if source.files else directory
            loader.report(error.file or first, error.line or 1, error.message, STOPPED)
            return []
        except RecursionError:
            first = source.files[0].path if source.files else directory
            loader.report(first, 1, "expressions nested too deeply to evaluate", STOPPED)
            return []


def _tfvars(
    loader: Loader, directory: str, extra: list[str], *, auto: bool
) -> dict[str, tuple[Any, Loc]]:
    files: list[str] = []
    if auto:  # Terraform's order: terraform.tfvars(.json), then *.auto.tfvars(.json)
        for name in ("terraform.tfvars", "terraform.tfvars.json"):
            default = os.path.join(directory, name)
            if os.path.isfile(default):
                files.append(default)
        with contextlib.suppress(OSError):
            files.extend(
                sorted(
                    os.path.join(directory, e)
                    for e in os.listdir(directory)
                    if e.endswith((".auto.tfvars", ".auto.tfvars.json"))
                )
            )
    files.extend(extra)
    out: dict[str, tuple[Any, Loc]] = {}
    if not files:
        return out
    dummy = ModuleInstance(loader, ModuleSource(directory, []), root_dir=directory)
    for path in files:
        parsed = loader.parse(path)
        scope = Scope(dummy, path)
        for name, attribute in parsed.body.attributes.items():
            out[name] = dummy.safe_ev(attribute.expr, scope)
    return out
