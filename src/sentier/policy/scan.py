"""A scan: load inputs, run the rules, apply suppressions and baseline; plain data out."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sentier.policy.config import PolicyConfig
from sentier.policy.errors import PolicyError
from sentier.policy.model import LoadResult
from sentier.policy.rules.engine import (
    SEVERITY_RANK,
    Context,
    Finding,
    Rule,
    load_rules,
    parse_rule,
    run_rules,
)
from sentier.policy.suppress import (
    Anchors,
    anchor,
    apply_baseline,
    apply_suppressions,
    read_baseline,
)

PARSE_RULE = "SNT-PARSE-001"


@dataclass
class ScanResult:
    paths: list[str]
    findings: list[Finding]
    resources: int
    files: int
    rules: int
    undetermined: int
    duration_s: float
    notes: list[str] = field(default_factory=list)
    resource_types: dict[str, int] = field(default_factory=dict)
    # The directory every reported path is relative to (SARIF's %SRCROOT%): absolute, real.
    root: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def open(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "open"]

    def failing(self, threshold: str | None) -> list[Finding]:
        if threshold is None or threshold == "none":
            return []
        floor = SEVERITY_RANK[threshold]
        return [f for f in self.open if SEVERITY_RANK[f.severity] >= floor]

    def summary(self) -> dict[str, Any]:
        by_severity: dict[str, int] = {}
        for finding in self.open:
            by_severity[finding.severity] = by_severity.get(finding.severity, 0) + 1
        return {
            "paths": self.paths,
            "files": self.files,
            "resources": self.resources,
            "rules": self.rules,
            "findings": len(self.findings),
            "open": len(self.open),
            "suppressed": sum(f.status == "suppressed" for f in self.findings),
            "baselined": sum(f.status == "baselined" for f in self.findings),
            "undetermined": self.undetermined,
            "by_severity": by_severity,
            "duration_s": round(self.duration_s, 3),
        }


def scan_root(paths: Sequence[str | os.PathLike[str]], explicit: str | None = None) -> str:
    """The directory a scan's reports are relative to, the same whatever the working directory:
    ``explicit`` if given (every path must lie inside it), else the git repository holding all
    the paths, else their deepest common directory. Absolute and real (symlinks resolved)."""
    reals = [os.path.realpath(p) for p in paths]
    if explicit is not None:
        root = os.path.realpath(explicit)
        if not os.path.isdir(root):
            raise PolicyError("scan root is not a directory", file=explicit)
        for given, real in zip(paths, reals, strict=True):
            if os.path.commonpath([root, real]) != root:
                raise PolicyError(f"outside the scan root {explicit}", file=os.fspath(given))
        return root
    directories = [r if os.path.isdir(r) else os.path.dirname(r) for r in reals]
    anchors = Anchors()
    repositories = {anchors.root_of(d) for d in directories}
    if len(repositories) == 1:
        (repository,) = repositories
        if repository is not None:
            return repository
    return os.path.commonpath(directories) if directories else os.path.realpath(".")


def parse_findings(loaded: LoadResult) -> list[Finding]:
    return [
        Finding(
            rule_id=PARSE_RULE,
            title="File cannot be parsed",
            severity="medium",
            category="Parse error",
            message=problem.message,
            file=problem.file,
            line=problem.line,
            resource=problem.file,
            resource_type="file",
            pack="core",
            remediation=problem.remediation
            or "Fix the syntax error; the rest of the file and tree was still scanned.",
        )
        for problem in loaded.problems
    ]


def load_tagging_plan(config: PolicyConfig, explicit: str | None = None) -> Any:
    from pathlib import Path

    from sentier.tagging import TaggingError, load_plan

    path = explicit or config.tagging_plan
    if path is None:
        path = str(Path(__file__).resolve().parent.parent / "tagging" / "default-plan.yaml")
    try:
        return load_plan(Path(path))
    except TaggingError as error:
        raise PolicyError(
            error.message, file=error.file, line=error.line, field=error.field
        ) from error


def select_rules(
    config: PolicyConfig,
    *,
    rules_dirs: Sequence[str] = (),
    packs: Sequence[str] | None = None,
) -> list[Rule]:
    rules = load_rules([*config.rules_dirs, *rules_dirs], packs=packs)
    for index, data in enumerate(config.guardrails):
        rules.append(parse_rule(data, f"{config.source}#guardrails[{index}]", "guardrails"))
    return rules


def scan_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    rules: Sequence[Rule] | None = None,
    config: PolicyConfig | None = None,
    rules_dirs: Sequence[str] = (),
    packs: Sequence[str] | None = None,
    var_files: Sequence[str] = (),
    baseline: str | None = None,
    tagging_plan: Any = None,
    today: Any = None,
    confine_to: Sequence[str] | None = None,
    root: str | None = None,
) -> ScanResult:
    """Scan files and directories; raises PolicyError only for bad rules/config/baseline.

    With ``confine_to``, no file outside those directories is read, symlinks and Terraform's
    ``file()`` included (see :mod:`sentier.policy.confine`). ``root``: the directory reports
    are relative to (default: see :func:`scan_root`).
    """
    from sentier.policy.loaders import load_paths

    started_at = datetime.now(UTC)
    started = time.perf_counter()
    config = config or PolicyConfig()
    if rules is None:
        rules = select_rules(config, rules_dirs=rules_dirs, packs=packs)
    for path in paths:
        if not os.path.exists(path):
            raise PolicyError("no such file or directory", file=os.fspath(path))
    report_root = scan_root(paths, root)
    if confine_to is not None:
        from sentier.policy.confine import confined

        with confined(confine_to):
            loaded = load_paths(paths, var_files=var_files)
    else:
        loaded = load_paths(paths, var_files=var_files)
    needs_plan = any(r.pack == "tagging" for r in rules)
    plan = (
        tagging_plan
        if tagging_plan is not None
        else (load_tagging_plan(config) if needs_plan else None)
    )
    context = Context(
        loaded.resources, tagging_plan=plan, settings={"sovereignty": config.sovereignty}
    )
    findings = parse_findings(loaded) + run_rules(rules, context)
    resource_lines = {r.address: (r.file, r.line) for r in loaded.resources}
    notes = apply_suppressions(
        findings,
        resource_lines=resource_lines,
        config=config.suppressions,
        root=os.path.dirname(config.source) if config.source else ".",
        today=today,
    )
    anchor(findings)
    if baseline:
        apply_baseline(findings, read_baseline(baseline))
    findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.file, f.line, f.rule_id))
    types: dict[str, int] = {}
    for resource in loaded.resources:
        types[resource.type] = types.get(resource.type, 0) + 1
    return ScanResult(
        paths=[os.fspath(p) for p in paths],
        findings=findings,
        resources=sum(1 for r in loaded.resources if r.kind != "module"),
        files=len(set(loaded.files)),
        rules=len(rules),
        undetermined=context.undetermined,
        duration_s=time.perf_counter() - started,
        notes=notes,
        resource_types=types,
        root=report_root,
        started_at=started_at,
    )
