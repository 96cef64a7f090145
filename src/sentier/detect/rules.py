"""Loading Sigma rules: YAML files -> pySigma rules -> sentier's field names -> compiled rules.

A file that cannot be used is refused with the file, the line and the field at fault, never a
traceback: pySigma says *what* is wrong; where, this module finds by re-checking the rule's
parts one by one (each detection item, the condition, the log source, the header fields)
against the line of each key in the YAML. The other rules of the directory still load.

Bounds: a rule file is at most ``MAX_FILE_BYTES`` and ``MAX_DOCUMENTS`` documents, YAML
anchors and aliases are refused (no alias bombs), and a directory gives at most ``MAX_RULES``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sigma import exceptions as sx
from sigma.collection import SigmaCollection
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.exceptions import SigmaRuleLocation
from sigma.rule import SigmaRule
from sigma.rule.detection import SigmaDetection, SigmaDetectionItem

from sentier.detect.errors import DetectError
from sentier.detect.ir import Node, Unsupported, fields_of, lower
from sentier.detect.match import Matcher, compile_node
from sentier.detect.pipeline import original_names, sentier_pipeline
from sentier.detect.records import KEYWORD_FIELD

MAX_FILE_BYTES = 512 * 1024
MAX_DOCUMENTS = 64
MAX_RULES = 20_000
RULE_SUFFIXES = (".yml", ".yaml")
TESTS_SUFFIX = ".tests.yml"
# Sigma level -> alert severity (sentier's four).
SEVERITY = {
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "low": "info",
    "informational": "info",
}
CORRELATION_TYPES = ("event_count", "value_count", "temporal")
_HEADER_ERRORS: dict[type[sx.SigmaError], str] = {
    sx.SigmaIdentifierError: "id",
    sx.SigmaTitleError: "title",
    sx.SigmaLevelError: "level",
    sx.SigmaStatusError: "status",
    sx.SigmaDateError: "date",
    sx.SigmaModifiedError: "modified",
    sx.SigmaTagError: "tags",
    sx.SigmaLogsourceError: "logsource",
    sx.SigmaAuthorError: "author",
    sx.SigmaDescriptionError: "description",
    sx.SigmaReferencesError: "references",
    sx.SigmaFalsePositivesError: "falsepositives",
    sx.SigmaFieldsError: "fields",
    sx.SigmaRelatedError: "related",
    sx.SigmaNameError: "name",
    sx.SigmaLicenseError: "license",
    sx.SigmaScopeError: "scope",
    sx.SigmaTaxonomyError: "taxonomy",
    sx.SigmaTimespanError: "correlation.timespan",
    sx.SigmaCorrelationTypeError: "correlation.type",
    sx.SigmaCorrelationConditionError: "correlation.condition",
    sx.SigmaRuleNotFoundError: "correlation.rules",
}


@dataclass
class RuleInfo:
    """What every rule says about itself, for listings, alerts and attribution (DRL 1.1)."""

    id: str
    title: str
    file: str
    line: int
    name: str | None = None
    level: str | None = None
    status: str | None = None
    description: str | None = None
    author: str | None = None
    tags: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    falsepositives: list[str] = field(default_factory=list)

    @property
    def severity(self) -> str:
        return SEVERITY.get(self.level or "", "warning")

    @property
    def attack(self) -> list[str]:
        """ATT&CK technique ids among the tags (``attack.t1110.001`` -> ``T1110.001``)."""
        return [
            t.split(".", 1)[1].upper()
            for t in self.tags
            if t.startswith("attack.t") and t[8:9].isdigit()
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "level": self.level,
            "severity": self.severity,
            "status": self.status,
            "description": self.description,
            "author": self.author,
            "tags": self.tags,
            "attack": self.attack,
            "references": self.references,
            "falsepositives": self.falsepositives,
            "file": self.file,
            "line": self.line,
        }


@dataclass
class Rule:
    """A Sigma detection rule, compiled: its log source, condition tree and matcher."""

    info: RuleInfo
    product: str | None
    service: str | None
    category: str | None
    condition: Node
    matcher: Matcher
    fields: frozenset[str]
    generate: bool = True  # False: only feeds correlations that do not generate its own alerts

    @property
    def id(self) -> str:
        return self.info.id

    def summary(self) -> dict[str, Any]:
        return {
            **self.info.as_dict(),
            "kind": "rule",
            "logsource": {
                "product": self.product,
                "service": self.service,
                "category": self.category,
            },
            "generate": self.generate,
        }


@dataclass
class Correlation:
    """A Sigma correlation rule over the matches of other rules, in tumbling windows."""

    info: RuleInfo
    type: str
    rules: list[str]  # ids of the rules it reads
    group_by: list[str]
    timespan: int  # seconds
    op: str | None = None  # gte, gt, lte, lt, eq (event_count, value_count)
    count: float | None = None
    value_field: str | None = None  # value_count
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # alias -> rule id -> field
    generate: bool = False

    @property
    def id(self) -> str:
        return self.info.id

    def group_field(self, name: str, rule_id: str) -> str:
        return self.aliases.get(name, {}).get(rule_id, name)

    def summary(self) -> dict[str, Any]:
        return {
            **self.info.as_dict(),
            "kind": "correlation",
            "type": self.type,
            "rules": self.rules,
            "group_by": self.group_by,
            "timespan_seconds": self.timespan,
            "condition": {"op": self.op, "count": self.count, "field": self.value_field},
        }


@dataclass
class RuleSet:
    """The rules of some directories, and those refused (each with file, line and field)."""

    rules: list[Rule] = field(default_factory=list)
    correlations: list[Correlation] = field(default_factory=list)
    refused: list[DetectError] = field(default_factory=list)
    files: int = 0

    def __len__(self) -> int:
        return len(self.rules) + len(self.correlations)

    def find(self, key: str) -> Rule | Correlation | None:
        wanted = key.lower()
        items: list[Rule | Correlation] = [*self.rules, *self.correlations]
        for item in items:
            if item.id.lower() == wanted or (item.info.name or "").lower() == wanted:
                return item
        return None

    def summaries(self) -> list[dict[str, Any]]:
        return [r.summary() for r in self.rules] + [c.summary() for c in self.correlations]


def shipped_rules_dir() -> Path:
    """The rules sentier ships (each with its tests beside it)."""
    return Path(str(resources.files("sentier.detect").joinpath("rules")))


def rule_files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_file():
            yield path
            continue
        if not path.is_dir():
            raise DetectError("no such file or directory", file=str(path))
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.endswith(RULE_SUFFIXES) and not name.endswith(TESTS_SUFFIX):
                    yield Path(root) / name


# -- YAML with lines ---------------------------------------------------------------------------


def _lines(node: yaml.Node, path: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = str(key.value)
            out[(*path, name)] = key.start_mark.line + 1
            _lines(value, (*path, name), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, str(index)), out)


def _first_alias(text: str) -> int | None:
    """The line of the first YAML alias (``*name``) of ``text``, None when it has none."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            return int(mark.line) + 1 if mark is not None else 1
    return None


@dataclass
class Document:
    data: dict[str, Any]
    lines: dict[tuple[str, ...], int]

    def line(self, *path: str) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, self.lines.get((), 1))


def read_documents(path: Path) -> list[Document]:
    """The YAML documents of a rule file with the line of every key; raises DetectError."""
    where = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DetectError(f"rule file larger than {MAX_FILE_BYTES} bytes", file=where)
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DetectError(f"not UTF-8 text: {error.reason}", file=where) from error
    except OSError as error:
        raise DetectError(f"cannot read: {error.strerror or error}", file=where) from error
    try:
        alias = _first_alias(text)
        if alias is not None:
            raise DetectError(
                "YAML anchors and aliases are not accepted in rules", file=where, line=alias
            )
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise DetectError(f"invalid YAML: {problem}", file=where, line=line) from error
    if len(nodes) > MAX_DOCUMENTS:
        raise DetectError(f"more than {MAX_DOCUMENTS} YAML documents", file=where)
    out = []
    for node in nodes:
        if node is None:
            continue
        data = yaml.SafeLoader(text).construct_document(node)
        lines: dict[tuple[str, ...], int] = {}
        _lines(node, (), lines)
        if not isinstance(data, dict):
            raise DetectError(
                "a rule document must be a mapping", file=where, line=node.start_mark.line + 1
            )
        out.append(Document(data, lines))
    return out


# -- locating pySigma's errors -----------------------------------------------------------------


def _message(error: sx.SigmaError) -> str:
    text = str(error.args[0]) if error.args else type(error).__name__
    # RE2's errors arrive as bytes' repr: b'missing ): (x'
    text = re.sub(r"b'(.*?)'", r"\1", text)
    return text.rstrip(".")


def locate(document: Document, error: sx.SigmaError, file: str) -> DetectError:
    """``error`` (raised for the whole rule) pinned to the key of the document at fault."""
    message = _message(error)
    for kind, name in _HEADER_ERRORS.items():
        if isinstance(error, kind):
            parts = tuple(name.split("."))
            return DetectError(message, file=file, line=document.line(*parts), field=name)
    detection = document.data.get("detection")
    if isinstance(detection, dict):
        found = _locate_detection(document, detection, file)
        if found is not None:
            return found
        if isinstance(error, sx.SigmaConditionError):
            return DetectError(
                message,
                file=file,
                line=document.line("detection", "condition"),
                field="detection.condition",
            )
    if "correlation" in document.data:
        return DetectError(
            message, file=file, line=document.line("correlation"), field="correlation"
        )
    return DetectError(message, file=file, line=document.line(), field=None)


def _locate_detection(
    document: Document, detection: dict[str, Any], file: str
) -> DetectError | None:
    for name, definition in detection.items():
        if name == "condition":
            continue
        items: list[tuple[tuple[str, ...], Any, Any]] = []
        if isinstance(definition, dict):
            items = [((name, str(k)), k, v) for k, v in definition.items()]
        elif isinstance(definition, list):
            for index, entry in enumerate(definition):
                if isinstance(entry, dict):
                    items.extend(((name, str(index), str(k)), k, v) for k, v in entry.items())
        for path, key, value in items:
            try:
                SigmaDetectionItem.from_mapping(str(key), value)
            except sx.SigmaError as error:
                return DetectError(
                    _message(error),
                    file=file,
                    line=document.line("detection", *path),
                    field="detection." + ".".join(p for p in path if not p.isdigit()),
                )
        try:
            SigmaDetection.from_definition(definition)
        except sx.SigmaError as error:
            return DetectError(
                _message(error),
                file=file,
                line=document.line("detection", name),
                field=f"detection.{name}",
            )
    return None


# -- loading -----------------------------------------------------------------------------------


def _info(rule: SigmaRule | SigmaCorrelationRule, document: Document, file: str) -> RuleInfo:
    return RuleInfo(
        id=str(rule.id) if rule.id else (rule.name or f"{file}:{document.line()}"),
        name=rule.name,
        title=rule.title or "(untitled)",
        file=file,
        line=document.line(),
        level=rule.level.name.lower() if rule.level else None,
        status=rule.status.name.lower() if rule.status else None,
        description=rule.description,
        author=rule.author,
        tags=[str(t) for t in rule.tags],
        references=[str(r) for r in rule.references],
        falsepositives=[str(f) for f in rule.falsepositives],
    )


def _compile(rule: SigmaRule, document: Document, file: str) -> Rule:
    info = _info(rule, document, file)
    source = rule.logsource
    back = original_names(source.product, source.service, source.category)
    sentier_pipeline().apply(rule)
    try:
        conditions = [c.parsed for c in rule.detection.parsed_condition]
    except sx.SigmaError as error:
        raise locate(document, error, file) from error
    try:
        nodes = [lower(tree, KEYWORD_FIELD, back) for tree in conditions]
    except Unsupported as problem:
        path = _field_path(document, problem.field)
        raise DetectError(
            problem.message,
            file=file,
            line=document.line(*path) if path else document.line("detection"),
            field=".".join(path) if path else "detection",
        ) from problem
    node = nodes[0] if len(nodes) == 1 else _or(nodes)
    try:
        matcher = compile_node(node)
    except (ValueError, OverflowError) as error:
        raise DetectError(
            f"cannot compile: {error}",
            file=file,
            line=document.line("detection"),
            field="detection",
        ) from error
    return Rule(
        info,
        source.product,
        source.service,
        source.category,
        node,
        matcher,
        frozenset(fields_of(node)),
    )


def _or(nodes: list[Node]) -> Node:
    from sentier.detect.ir import Or

    return Or(tuple(nodes))


def _field_path(document: Document, sigma_field: str | None) -> tuple[str, ...] | None:
    """The path of the first detection key naming ``sigma_field`` (with any modifiers)."""
    if not sigma_field:
        return None
    for path in document.lines:
        if len(path) >= 3 and path[0] == "detection":
            key = path[-1]
            if key.split("|", 1)[0] == sigma_field or (
                sigma_field == "keywords" and len(path) == 3
            ):
                return path
    return None


def _correlation(rule: SigmaCorrelationRule, document: Document, file: str) -> Correlation:
    info = _info(rule, document, file)
    kind = rule.type.name.lower() if isinstance(rule.type, SigmaCorrelationType) else str(rule.type)
    if kind not in CORRELATION_TYPES:
        raise DetectError(
            f"correlation type {kind} is not supported (only {', '.join(CORRELATION_TYPES)})",
            file=file,
            line=document.line("correlation", "type"),
            field="correlation.type",
        )
    condition = rule.condition
    op = count = value_field = None
    if isinstance(condition, SigmaCorrelationCondition):
        op = condition.op.name.lower()
        count = float(condition.count)
        fieldref = condition.fieldref
        if isinstance(fieldref, list):
            if len(fieldref) != 1:
                raise DetectError(
                    "value_count over several fields is not supported",
                    file=file,
                    line=document.line("correlation", "condition"),
                    field="correlation.condition.field",
                )
            fieldref = fieldref[0]
        value_field = fieldref
    elif condition is not None and kind != "temporal":
        raise DetectError(
            "extended correlation conditions are not supported",
            file=file,
            line=document.line("correlation", "condition"),
            field="correlation.condition",
        )
    if kind == "value_count" and not value_field:
        raise DetectError(
            "value_count needs condition.field",
            file=file,
            line=document.line("correlation", "condition"),
            field="correlation.condition.field",
        )
    if kind != "temporal" and op is None:
        raise DetectError(
            f"{kind} needs a condition",
            file=file,
            line=document.line("correlation"),
            field="correlation.condition",
        )
    references = [ref.reference for ref in rule.rules or []]
    aliases = {
        alias.alias: {ref.reference: name for ref, name in alias.mapping.items()}
        for alias in rule.aliases
    }
    return Correlation(
        info,
        kind,
        references,
        list(rule.group_by or []),
        int(rule.timespan.seconds),
        op,
        count,
        value_field,
        aliases,
        bool(rule.generate),
    )


def _parse(document: Document, file: str) -> SigmaRule | SigmaCorrelationRule:
    source = SigmaRuleLocation(Path(file), document.line())
    try:
        collection = SigmaCollection.from_dicts(
            [document.data], source=source, resolve_references=False
        )
    except sx.SigmaError as error:
        raise locate(document, error, file) from error
    if not collection.rules:
        raise DetectError(
            "not a rule (a filter or global action is not supported)",
            file=file,
            line=document.line(),
        )
    return collection.rules[0]


def load_rules(paths: Iterable[Path], *, shipped: bool = False) -> RuleSet:
    """Every rule under ``paths`` (and sentier's own with ``shipped``); refused ones listed.

    Raises DetectError only when a path does not exist.
    """
    sources = [shipped_rules_dir()] if shipped else []
    sources.extend(Path(p) for p in paths)
    result = RuleSet()
    parsed: list[tuple[SigmaRule | SigmaCorrelationRule, Document, str]] = []
    for path in rule_files(sources):
        result.files += 1
        file = str(path)
        try:
            documents = read_documents(path)
        except DetectError as error:
            result.refused.append(error)
            continue
        for document in documents:
            if len(parsed) >= MAX_RULES:
                result.refused.append(
                    DetectError(f"more than {MAX_RULES} rules: the rest are ignored", file=file)
                )
                break
            try:
                parsed.append((_parse(document, file), document, file))
            except DetectError as error:
                result.refused.append(error)
    _build(parsed, result)
    return result


def _build(
    parsed: list[tuple[SigmaRule | SigmaCorrelationRule, Document, str]], result: RuleSet
) -> None:
    by_key: dict[str, Rule] = {}
    correlations: list[tuple[SigmaCorrelationRule, Document, str]] = []
    seen: set[str] = set()
    for rule, document, file in parsed:
        if isinstance(rule, SigmaCorrelationRule):
            correlations.append((rule, document, file))
            continue
        try:
            compiled = _compile(rule, document, file)
        except DetectError as error:
            result.refused.append(error)
            continue
        if compiled.id in seen:
            result.refused.append(
                DetectError(
                    f"duplicate rule id {compiled.id}",
                    file=file,
                    line=document.line("id"),
                    field="id",
                )
            )
            continue
        seen.add(compiled.id)
        result.rules.append(compiled)
        by_key[compiled.id] = compiled
        if compiled.info.name:
            by_key[compiled.info.name] = compiled
    for rule, document, file in correlations:
        try:
            correlation = _correlation(rule, document, file)
        except DetectError as error:
            result.refused.append(error)
            continue
        except sx.SigmaError as error:
            result.refused.append(locate(document, error, file))
            continue
        resolved = []
        for index, reference in enumerate(correlation.rules):
            target = by_key.get(reference)
            if target is None:
                result.refused.append(
                    DetectError(
                        f"refers to {reference}, which is not a loaded detection rule",
                        file=file,
                        line=document.line("correlation", "rules", str(index)),
                        field="correlation.rules",
                    )
                )
                break
            resolved.append(target)
        else:
            correlation.rules = [r.id for r in resolved]
            correlation.aliases = {
                alias: {by_key[ref].id: name for ref, name in mapping.items() if ref in by_key}
                for alias, mapping in correlation.aliases.items()
            }
            if correlation.id in seen:
                result.refused.append(
                    DetectError(
                        f"duplicate rule id {correlation.id}",
                        file=file,
                        line=document.line("id"),
                        field="id",
                    )
                )
                continue
            seen.add(correlation.id)
            result.correlations.append(correlation)
    referenced = {rid for c in result.correlations for rid in c.rules}
    generating = {rid for c in result.correlations if c.generate for rid in c.rules}
    for compiled_rule in result.rules:
        if compiled_rule.id in referenced and compiled_rule.id not in generating:
            compiled_rule.generate = False


__all__ = [
    "SEVERITY",
    "Correlation",
    "Rule",
    "RuleInfo",
    "RuleSet",
    "load_rules",
    "read_documents",
    "rule_files",
    "shipped_rules_dir",
]
