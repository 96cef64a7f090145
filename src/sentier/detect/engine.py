"""The streaming engine: records in, detections out, as they arrive.

Rules are indexed by log source once: a record meets only the rules whose ``product``,
``service`` and ``category`` it has (a rule leaving one out accepts any), and the list for
each distinct log source is cached, so a syslog line never meets the cloud rules.

Correlation rules (``event_count``, ``value_count``, ``temporal``) count the matches of the
rules they name in tumbling windows of their ``timespan`` (aligned on the Unix epoch), per
value of their ``group-by`` fields — the windows SIEM backends use (``bin _time``), and ones
SQL can compute the same way (``hunt``). A correlation fires once per group and window:
``gte``/``gt`` at the match that reaches the count, ``lt``/``lte``/``eq`` when the window is
closed (a later match of the group arrives, or the stream ends: ``flush``), ``temporal`` at
the match that completes the set of rules. Matches lacking a group-by field (or, for
``value_count``, the counted field) do not count. An event counts once per correlation even
when it matches several of its rules.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentier.detect.match import Subject
from sentier.detect.prefilter import Prefilter
from sentier.detect.records import Record, record_data, record_from_data
from sentier.detect.rules import Correlation, Rule, RuleInfo, RuleSet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_WINDOWS = 200_000  # open (group, window) states per correlation; the oldest go first
MAX_VALUES = 100_000  # distinct values remembered per window (value_count)
SNAPSHOT_WINDOWS = 10_000  # open windows per correlation carried from one poll to the next
LogSource = tuple[str | None, tuple[str, ...], str | None]


def window_of(at: datetime, seconds: int) -> int:
    """The tumbling window ``at`` falls in (its start, in seconds since the epoch)."""
    milliseconds = (at - EPOCH) // timedelta(milliseconds=1)
    return int(milliseconds // (seconds * 1000)) * seconds


@dataclass
class Detection:
    """A rule matched a record, or a correlation fired at one."""

    rule: RuleInfo
    at: datetime
    origin: str
    kind: str = "match"  # or "correlation"
    group: tuple[tuple[str, str], ...] = ()
    window: int | None = None
    count: int | None = None
    record: Record | None = None
    generate: bool = True
    entity: str | None = None
    owner: str | None = None
    hint: str | None = None
    suppressed_by: int | None = None

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...], int | None]:
        """What makes two detections the same one (how the two engines are compared)."""
        return (self.rule.id, self.origin, self.group, self.window)

    def as_dict(self) -> dict[str, Any]:
        record = self.record
        return {
            "rule_id": self.rule.id,
            "title": self.rule.title,
            "level": self.rule.level,
            "severity": self.rule.severity,
            "tags": self.rule.tags,
            "attack": self.rule.attack,
            "author": self.rule.author,
            "at": self.at.isoformat(),
            "origin": self.origin,
            "kind": self.kind,
            "group": dict(self.group),
            "window_start": (
                datetime.fromtimestamp(self.window, UTC).isoformat()
                if self.window is not None
                else None
            ),
            "count": self.count,
            "entity": self.entity,
            "owner": self.owner,
            "hint": self.hint,
            "suppressed_by": self.suppressed_by,
            "message": (record.fields.get("message") or "")[:500] if record else None,
        }


class Plan:
    """What a record of one log source meets: its rules, their prefilter, the fields they read."""

    __slots__ = ("fields", "prefilter", "rules")

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.prefilter = Prefilter([r.condition for r in rules]) if rules else None
        self.fields = frozenset(name for r in rules for name in r.fields)

    def candidates(self, subject: Subject) -> Sequence[Rule]:
        """The rules that may match (all of them, in order, that the prefilter does not rule
        out; see ``prefilter``)."""
        if self.prefilter is None:
            return ()
        rules = self.rules
        return [rules[i] for i in self.prefilter.candidates(subject.low)]


class RuleIndex:
    """Rules by log source; ``plan`` tells what a record of a log source meets."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._by_key: dict[tuple[str | None, str | None, str | None], list[Rule]] = {}
        self._order: dict[str, int] = {}
        for position, rule in enumerate(rules):
            key = (rule.product, rule.service, rule.category)
            self._by_key.setdefault(key, []).append(rule)
            self._order[rule.id] = position
        self._plans: dict[tuple[str, ...], Plan] = {}
        self._cache: dict[LogSource, Plan] = {}

    def for_logsource(self, logsource: LogSource) -> tuple[Rule, ...]:
        return self.plan(logsource).rules

    def plan(self, logsource: LogSource) -> Plan:
        found = self._cache.get(logsource)
        if found is not None:
            return found
        product, services, category = logsource
        out: list[Rule] = []
        for p in {None, product}:
            for s in {None, *services}:
                for c in {None, category}:
                    out.extend(self._by_key.get((p, s, c), ()))
        rules = tuple(sorted(out, key=lambda r: self._order[r.id]))
        # Log sources that meet the same rules share one plan (and one set of automata).
        ids = tuple(r.id for r in rules)
        plan = self._plans.get(ids)
        if plan is None:
            plan = self._plans[ids] = Plan(rules)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[logsource] = plan
        return plan


@dataclass
class _Window:
    count: int = 0
    values: set[str] = field(default_factory=set)
    seen: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    last: Record | None = None
    fired: bool = False


def _holds(op: str | None, count: float | None, value: int) -> bool:
    bound = count or 0.0
    return {
        "gte": value >= bound,
        "gt": value > bound,
        "lte": value <= bound,
        "lt": value < bound,
        "eq": value == bound,
    }.get(op or "gte", False)


class CorrelationState:
    """One correlation's open windows, per group."""

    def __init__(self, correlation: Correlation) -> None:
        self.correlation = correlation
        self.windows: OrderedDict[tuple[tuple[str, ...], int], _Window] = OrderedDict()
        self.latest: dict[tuple[str, ...], int] = {}
        self.at_close = correlation.type != "temporal" and correlation.op in ("lt", "lte", "eq")

    def _group(self, rule_id: str, record: Record) -> tuple[str, ...] | None:
        values = []
        for name in self.correlation.group_by:
            value = record.fields.get(self.correlation.group_field(name, rule_id))
            if value is None:
                return None
            values.append(value)
        return tuple(values)

    def _detection(
        self, group: tuple[str, ...], window: int, record: Record, count: int
    ) -> Detection:
        return Detection(
            self.correlation.info,
            record.at,
            record.origin,
            kind="correlation",
            group=tuple(zip(self.correlation.group_by, group, strict=True)),
            window=window,
            count=count,
            record=record,
        )

    def _window(self, group: tuple[str, ...], start: int, out: list[Detection]) -> _Window:
        key = (group, start)
        current = self.windows.get(key)
        if current is None:
            previous = self.latest.get(group)
            if previous is not None and previous < start:
                self._close((group, previous), out)
            self.latest[group] = max(start, previous or start)
            current = self.windows[key] = _Window()
            while len(self.windows) > MAX_WINDOWS:
                old_key, _ = next(iter(self.windows.items()))
                self._close(old_key, out)
        return current

    def _close(self, key: tuple[tuple[str, ...], int], out: list[Detection]) -> None:
        window = self.windows.pop(key, None)
        if window is None or not self.at_close or window.last is None:
            return
        value = len(window.values) if self.correlation.type == "value_count" else window.count
        if _holds(self.correlation.op, self.correlation.count, value):
            out.append(self._detection(key[0], key[1], window.last, value))

    def feed(self, matched: list[str], record: Record, out: list[Detection]) -> None:
        """``matched``: ids of this correlation's rules that ``record`` matched, in its order."""
        correlation = self.correlation
        start = window_of(record.at, correlation.timespan)
        if correlation.type == "temporal":
            for rule_id in matched:
                group = self._group(rule_id, record)
                if group is None:
                    continue
                window = self._window(group, start, out)
                window.seen.setdefault(rule_id, (record.at, record.seq))
                if not window.fired and len(window.seen) == len(set(correlation.rules)):
                    window.fired = True
                    out.append(self._detection(group, start, record, len(window.seen)))
            return
        rule_id = matched[0]
        group = self._group(rule_id, record)
        if group is None:
            return
        if correlation.type == "value_count":
            assert correlation.value_field is not None
            value = record.fields.get(correlation.group_field(correlation.value_field, rule_id))
            if value is None:
                return
            window = self._window(group, start, out)
            if len(window.values) < MAX_VALUES:
                window.values.add(value)
            measure = len(window.values)
        else:
            window = self._window(group, start, out)
            window.count += 1
            measure = window.count
        window.last = record
        if (
            not self.at_close
            and not window.fired
            and _holds(correlation.op, correlation.count, measure)
        ):
            window.fired = True
            out.append(self._detection(group, start, record, measure))

    def flush(self, out: list[Detection]) -> None:
        for key in list(self.windows):
            self._close(key, out)
        self.latest.clear()

    def expire(self, before: int, out: list[Detection]) -> None:
        """Close the windows that ended at or before ``before`` (epoch seconds)."""
        span = self.correlation.timespan
        for key in [k for k in self.windows if k[1] + span <= before]:
            self._close(key, out)
            if self.latest.get(key[0]) == key[1]:
                del self.latest[key[0]]

    def snapshot(self, limit: int) -> list[Any]:
        """The open windows (the ``limit`` most recent) as JSON-ready data."""
        out = []
        for (group, start), window in list(self.windows.items())[-limit:]:
            out.append(
                {
                    "group": list(group),
                    "start": start,
                    "count": window.count,
                    "values": sorted(window.values),
                    "seen": {k: [at.isoformat(), seq] for k, (at, seq) in window.seen.items()},
                    # Only closing conditions read the window's last record.
                    "last": record_data(window.last) if window.last and self.at_close else None,
                    "fired": window.fired,
                }
            )
        return out

    def restore(self, windows: list[Any]) -> None:
        for item in windows:
            group, start = tuple(str(v) for v in item["group"]), int(item["start"])
            window = _Window(
                count=int(item["count"]),
                values={str(v) for v in item["values"]},
                seen={
                    str(k): (datetime.fromisoformat(at), int(seq))
                    for k, (at, seq) in item["seen"].items()
                },
                last=record_from_data(item["last"]) if item["last"] else None,
                fired=bool(item["fired"]),
            )
            self.windows[(group, start)] = window
            self.latest[group] = max(start, self.latest.get(group, start))


class StreamEngine:
    """Rules compiled once, indexed by log source; ``process`` one record at a time."""

    def __init__(self, ruleset: RuleSet, *, prefilter: bool = True) -> None:
        self.ruleset = ruleset
        self.prefilter = prefilter
        self.index = RuleIndex(ruleset.rules)
        self.states = [CorrelationState(c) for c in ruleset.correlations]
        self._feeds: dict[str, list[tuple[CorrelationState, int]]] = {}
        for state in self.states:
            for position, rule_id in enumerate(state.correlation.rules):
                self._feeds.setdefault(rule_id, []).append((state, position))
        self.records = 0
        self.evaluations = 0

    def process(self, record: Record) -> list[Detection]:
        self.records += 1
        plan = self.index.plan(record.logsource)
        rules: Sequence[Rule] = plan.rules
        if not rules:
            return []
        subject = Subject(record.fields, plan.fields)
        if self.prefilter:
            rules = plan.candidates(subject)
        out: list[Detection] = []
        matched: list[str] = []
        self.evaluations += len(rules)
        for rule in rules:
            if rule.matcher(subject):
                matched.append(rule.id)
                out.append(
                    Detection(
                        rule.info, record.at, record.origin, record=record, generate=rule.generate
                    )
                )
        if matched and self._feeds:
            self._correlate(matched, record, out)
        return out

    def _correlate(self, matched: list[str], record: Record, out: list[Detection]) -> None:
        per_state: dict[int, tuple[CorrelationState, list[tuple[int, str]]]] = {}
        for rule_id in matched:
            for state, position in self._feeds.get(rule_id, ()):
                per_state.setdefault(id(state), (state, []))[1].append((position, rule_id))
        for state, hits in per_state.values():
            state.feed([rule_id for _, rule_id in sorted(hits)], record, out)

    def flush(self) -> list[Detection]:
        """Close every open window (end of the stream); detections of closing conditions."""
        out: list[Detection] = []
        for state in self.states:
            state.flush(out)
        return out

    def expire(self, now: datetime) -> list[Detection]:
        """Close the windows that ended by ``now`` (a stream that goes on, such as the poll of
        what sentier receives, instead of ``flush``)."""
        out: list[Detection] = []
        moment = int((now - EPOCH).total_seconds())
        for state in self.states:
            state.expire(moment, out)
        return out

    def snapshot(self, limit: int = SNAPSHOT_WINDOWS) -> dict[str, Any]:
        """The correlation windows still open, per correlation, to carry on in another process
        (``restore``): at most ``limit`` windows per correlation, the most recent."""
        return {
            state.correlation.id: state.snapshot(limit) for state in self.states if state.windows
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Reopen the windows of ``snapshot`` (those of correlations no longer loaded are
        dropped)."""
        for state in self.states:
            windows = data.get(state.correlation.id)
            if isinstance(windows, list):
                state.restore(windows)

    def run(self, records: Iterable[Record]) -> list[Detection]:
        out: list[Detection] = []
        for record in records:
            out.extend(self.process(record))
        out.extend(self.flush())
        return out


__all__ = ["Detection", "RuleIndex", "StreamEngine", "window_of"]
