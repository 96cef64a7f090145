"""What rules read: a record — a log line, a CloudTrail event, a CloudEvent, an audit entry, a
finding or an incident — as a log source and a flat text view of its fields.

Every value is text: nested objects are flattened to dotted names (``userIdentity.type``, as
Sigma's cloud rules name them), numbers and booleans written as JSON writes them, lists kept
as their JSON text, nulls left out. Both engines (the stream and the SQL hunt) read exactly
this view, which is what makes their detections identical. Inputs are bounded: values are cut
at ``MAX_VALUE`` characters, records at ``MAX_FIELDS`` fields and ``MAX_DEPTH`` levels.

A record also carries hints naming what it is about (``entity``, ``service``, ``host``,
``account``), in the order attribution tries them (see ``attribution``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import orjson
import yaml

from sentier.detect.errors import DetectError

MAX_VALUE = 65_536
MAX_FIELDS = 1_000
MAX_DEPTH = 16
KEYWORD_FIELD = "message"


@dataclass(slots=True)
class Record:
    at: datetime
    fields: dict[str, str]
    origin: str  # file:line, inbound message id, audit event id...
    product: str | None = None
    services: tuple[str, ...] = ()
    category: str | None = None
    kind: str = "log"
    hints: tuple[tuple[str, str], ...] = ()
    seq: int = 0  # order among records of one run (ties of time)

    @property
    def logsource(self) -> tuple[str | None, tuple[str, ...], str | None]:
        return self.product, self.services, self.category


@cache
def logsource_data() -> dict[str, Any]:
    text = resources.files("sentier.detect").joinpath("data/logsources.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = json.dumps(value)
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text[:MAX_VALUE]


def flatten(
    document: Mapping[str, Any], prefix: str = "", *, skip: str | None = None
) -> dict[str, str]:
    """The text view of a JSON object (see the module's docstring), without its top-level
    key ``skip``."""
    out: dict[str, str] = {}
    _flatten(document, prefix, out, 0, skip)
    return out


def _flatten(
    document: Mapping[str, Any],
    prefix: str,
    out: dict[str, str],
    depth: int,
    skip: str | None = None,
) -> None:
    for key, value in document.items():
        if len(out) >= MAX_FIELDS:
            return
        if key == skip:
            continue
        name = prefix + key if type(key) is str else f"{prefix}{key}"
        text: str | None
        if type(value) is str:  # the common case first, without the ABC checks below
            text = value.replace("\x00", "") if "\x00" in value else value
            if len(text) > MAX_VALUE:
                text = text[:MAX_VALUE]
        elif isinstance(value, Mapping) and depth < MAX_DEPTH:
            _flatten(value, name + ".", out, depth + 1)
            continue
        else:
            text = _text(value)
            if text is None:
                continue
        out[name.replace("\x00", "") if "\x00" in name else name] = text


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` allowed) or epoch seconds, in UTC; None when unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- log lines -------------------------------------------------------------------------------

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
SYSLOG = re.compile(
    r"^(?P<month>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d{2}:\d{2}:\d{2}) "
    r"(?P<host>\S+) (?P<program>[^\s:\[]+(?:\([^)\s]*\))?)(?:\[(?P<pid>\d+)\])?: ?(?P<content>.*)$"
)
ACCESS = re.compile(
    r'^(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-)(?: "(?P<referer>[^"]*)" "(?P<agent>[^"]*)")?'
)


@dataclass
class LineReader:
    """Reads log lines into records: syslog (RFC 3164), web access logs, JSON lines.

    Syslog has no year: ``year`` is assumed (by default the current one, or the previous one
    for dates that would lie in the future, as syslog readers do).
    """

    source: str
    year: int | None = None
    logsource: dict[str, str] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    last: datetime | None = None
    _stamp_key: tuple[str, str, str] | None = field(default=None, repr=False)
    _stamp_value: datetime | None = field(default=None, repr=False)

    def read(self, text: str, line: int) -> list[Record]:
        """The records of line number ``line`` (none for a blank line, several for a
        CloudTrail envelope); a list rather than a generator, one per line being the rule."""
        origin = f"{self.source}:{line}"
        stripped = text.strip()
        if not stripped:
            return []
        if stripped.startswith("{"):
            return self._json(stripped, origin)
        found = SYSLOG.match(text)
        if found:
            return [self._syslog(found, text, origin)]
        found = ACCESS.match(text)
        if found:
            return [self._access(found, text, origin)]
        return [self._plain(text, origin)]

    def _time(self, moment: datetime | None) -> datetime:
        if moment is None:
            moment = self.last or self.now
        self.last = moment
        return moment

    def _stamp(self, month_name: str, day: str, clock: str) -> datetime | None:
        """A syslog time in UTC (lines come in bursts of one second: the last one is kept)."""
        key = (month_name, day, clock)
        if key == self._stamp_key:
            return self._stamp_value
        month = _MONTHS.get(month_name, 1)
        hour, minute, second = (int(x) for x in clock.split(":"))
        year = self.year or self.now.year
        moment: datetime | None
        try:
            moment = datetime(year, month, int(day), hour, minute, second, tzinfo=UTC)
            if self.year is None and moment > self.now:
                moment = moment.replace(year=year - 1)
        except ValueError:
            moment = None
        self._stamp_key, self._stamp_value = key, moment
        return moment

    def _syslog(self, found: re.Match[str], text: str, origin: str) -> Record:
        month, day, clock, host, program, pid, content = found.groups()
        moment = self._stamp(month, day, clock)
        base = program.split("(", 1)[0]
        fields = {"host": host, "program": program, "message": content, "raw": text}
        if pid:
            fields["pid"] = pid
        if "=" in content:
            fields.update(_key_values(content))
        if base == "sshd" or "rhost" in fields:
            fields.update(_sshd(content, fields))
        product = self.logsource.get("product", "linux")
        return Record(
            self._time(moment),
            _bounded(fields) if len(text) > MAX_VALUE else fields,  # each value is part of text
            origin,
            product=product,
            services=_syslog_services(base),
            category=self.logsource.get("category"),
            hints=(("host", host), ("service", base)),
        )

    def _access(self, found: re.Match[str], text: str, origin: str) -> Record:
        moment: datetime | None
        moment = _access_time(found["time"])
        method, _, rest = found["request"].partition(" ")
        target, _, version = rest.rpartition(" ") if " " in rest else (rest, "", "")
        path, _, query = target.partition("?")
        fields = {
            "client.ip": found["ip"],
            "http.method": method,
            "url.original": target,
            "url.path": path,
            "http.version": version,
            "http.status": found["status"],
            "message": text,
            "raw": text,
        }
        if query:
            fields["url.query"] = query
        if found["user"] != "-":
            fields["user.name"] = found["user"]
        if found["bytes"] != "-":
            fields["http.bytes"] = found["bytes"]
        if found["referer"] not in (None, "-"):
            fields["http.referer"] = found["referer"]
        if found["agent"] is not None:
            fields["user_agent"] = found["agent"]
        services = tuple(s for s in (self.logsource.get("service"),) if s)
        return Record(
            self._time(moment),
            _bounded(fields) if len(text) > MAX_VALUE else fields,  # each value is part of text
            origin,
            product=self.logsource.get("product"),
            services=services,
            category=self.logsource.get("category", "webserver"),
            hints=tuple((k, v) for k, v in (("host", self.logsource.get("host", "")),) if v),
        )

    def _json(self, text: str, origin: str) -> list[Record]:
        try:
            document = _loads(text)
        except ValueError:
            return [self._plain(text, origin)]
        if not isinstance(document, dict):
            return [self._plain(text, origin)]
        if isinstance(document.get("Records"), list):  # a CloudTrail log file's envelope
            return [
                from_document(item, f"{origin}#{index}", self.logsource)
                for index, item in enumerate(document["Records"][:100_000])
                if isinstance(item, dict)
            ]
        return [from_document(document, origin, self.logsource)]

    def _plain(self, text: str, origin: str) -> Record:
        return Record(
            self._time(None),
            _bounded({"message": text, "raw": text}),
            origin,
            product=self.logsource.get("product"),
            services=tuple(s for s in (self.logsource.get("service"),) if s),
            category=self.logsource.get("category"),
        )


def _syslog_services(program: str) -> tuple[str, ...]:
    """The Sigma services of a syslog program (its own, then those every line has)."""
    return _known_services(program) if len(program) <= 64 else _services_of(program)


@lru_cache(maxsize=1024)
def _known_services(program: str) -> tuple[str, ...]:
    return _services_of(program)


def _services_of(program: str) -> tuple[str, ...]:
    data = logsource_data()
    services = [data["services"][program]] if program in data["services"] else []
    services += [s for s in data["syslog_services"] if s not in services]
    return tuple(services)


def _loads(text: str) -> Any:
    """A JSON document; orjson first (several times faster), the standard module for what
    orjson refuses and Python reads (NaN, integers beyond 64 bits), so both read the same."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


_ACCESS_TIME = re.compile(
    r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)


def _access_time(text: str) -> datetime | None:
    """``10/Oct/2000:13:55:36 -0700`` in UTC; ``strptime`` (ten times slower) for the rest."""
    found = _ACCESS_TIME.fullmatch(text)
    try:
        if found and found[2] in _MONTHS:
            day, month, year, hour, minute, second, sign, zh, zm = found.groups()
            offset = timedelta(hours=int(zh), minutes=int(zm))
            zone = timezone(-offset if sign == "-" else offset)
            moment = datetime(
                int(year),
                _MONTHS[month],
                int(day),
                int(hour),
                int(minute),
                int(second),
                tzinfo=zone,
            )
        else:
            moment = datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        return None
    return moment.astimezone(UTC)


_KV = re.compile(r'(?:^|\s)([A-Za-z_][A-Za-z0-9_]{0,63})=("[^"]*"|\S*)')


def _key_values(content: str) -> dict[str, str]:
    """``key=value`` pairs of a message (auditd, pam), as Sigma's auditd rules name them."""
    out: dict[str, str] = {}
    for key, value in _KV.findall(content[:8192]):
        if key in ("host", "program", "message", "raw", "pid"):
            continue
        out.setdefault(key, value[1:-1] if value.startswith('"') else value)
        if len(out) >= 64:
            break
    return out


_SSHD_FROM = re.compile(r"\bfrom (?P<ip>[0-9A-Fa-f:.]+)(?: port (?P<port>\d+))?")
_SSHD_BRACKET = re.compile(r"\[(?P<ip>\d{1,3}(?:\.\d{1,3}){3})\]")
_SSHD_USER = re.compile(
    r"(?:[Ii]nvalid user|[Ff]ailed \w+ for(?: invalid user)?|Accepted \w+ for) (?P<user>\S+) from"
)


def _sshd(content: str, fields: Mapping[str, str]) -> dict[str, str]:
    """The client address and user of an sshd (or PAM) message, as ``source.ip``,
    ``source.port`` and ``user.name``: sshd writes them in prose, not as key=value."""
    out: dict[str, str] = {}
    # Each pattern needs a literal; testing for it first spares most lines a search.
    found = ("from " in content and _SSHD_FROM.search(content)) or (
        "[" in content and _SSHD_BRACKET.search(content)
    )
    if found:
        out["source.ip"] = found["ip"]
        if found.groupdict().get("port"):
            out["source.port"] = found["port"]
    elif fields.get("rhost"):
        out["source.ip"] = fields["rhost"]
    user = _SSHD_USER.search(content) if "from" in content else None
    if user:
        out["user.name"] = user["user"]
    elif fields.get("user"):
        out["user.name"] = fields["user"]
    return out


def _bounded(fields: dict[str, str]) -> dict[str, str]:
    return {k: (v if len(v) <= MAX_VALUE else v[:MAX_VALUE]) for k, v in fields.items()}


# -- documents: CloudTrail, CloudEvents, alerts, audit, findings, incidents --------------------


def is_cloudtrail(document: Mapping[str, Any]) -> bool:
    return "eventSource" in document and "eventName" in document and "eventVersion" in document


def cloudtrail(document: Mapping[str, Any], origin: str) -> Record:
    hints = []
    account = document.get("recipientAccountId") or (document.get("userIdentity") or {}).get(
        "accountId"
    )
    if account:
        hints.append(("account", str(account)))
    return Record(
        parse_time(document.get("eventTime")) or datetime.now(UTC),
        flatten(document),
        origin,
        product="aws",
        services=("cloudtrail",),
        kind="cloudtrail",
        hints=tuple(hints),
    )


def from_document(
    document: Mapping[str, Any], origin: str, logsource: Mapping[str, str] | None = None
) -> Record:
    """A JSON object read from a file: CloudTrail when it has CloudTrail's shape, a CloudEvent
    when it has CloudEvents' attributes, else a record of the ``logsource`` given (or of its
    own ``logsource`` object)."""
    if is_cloudtrail(document):
        return cloudtrail(document, origin)
    if "specversion" in document and "type" in document:
        return from_cloudevent(document, origin)
    given = dict(logsource or {})
    own = document.get("logsource")
    if isinstance(own, Mapping):
        given = {k: str(v) for k, v in own.items() if k in ("product", "service", "category")}
    fields = flatten(document, skip="logsource")
    moment = None
    for key in ("@timestamp", "timestamp", "time", "eventTime", "at", "ts"):
        if key in document:
            moment = parse_time(document[key])
            if moment:
                break
    return Record(
        moment or datetime.now(UTC),
        fields,
        origin,
        product=given.get("product"),
        services=tuple(s for s in (given.get("service"),) if s),
        category=given.get("category"),
        kind="json",
        hints=_hints(fields),
    )


def _hints(fields: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for key, hint in (
        ("entity", "entity"),
        ("labels.entity", "entity"),
        ("service", "service"),
        ("labels.service", "service"),
        ("service.name", "service"),
        ("host", "host"),
        ("hostname", "host"),
        ("host.name", "host"),
        ("Computer", "host"),
    ):
        value = fields.get(key)
        if value:
            out.append((hint, value))
    return tuple(out)


def from_cloudevent(event: Mapping[str, Any], origin: str) -> Record:
    """An inbound CloudEvent. CloudTrail records carried in ``data`` (as sent, or inside an
    EventBridge envelope's ``detail``) are CloudTrail records; any other event is read with
    logsource ``product: sentier, service: cloudevents`` and its attributes as fields."""
    data = event.get("data")
    if isinstance(data, Mapping):
        if is_cloudtrail(data):
            return cloudtrail(data, origin)
        detail = data.get("detail")
        if isinstance(detail, Mapping) and is_cloudtrail(detail):
            return cloudtrail(detail, origin)
    fields = flatten(event)
    hints = list(_hints({k.removeprefix("data."): v for k, v in fields.items()}))
    if event.get("subject"):
        hints.append(("entity", str(event["subject"])))
    return Record(
        parse_time(event.get("time")) or datetime.now(UTC),
        fields,
        origin,
        product="sentier",
        services=("cloudevents",),
        kind="cloudevent",
        hints=tuple(hints),
    )


def from_alertmanager(payload: Mapping[str, Any], origin: str) -> Iterator[Record]:
    """One record per alert of an Alertmanager notification (``product: sentier``, ``service:
    alerts``)."""
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        return
    for index, alert in enumerate(alerts[:10_000]):
        if not isinstance(alert, Mapping):
            continue
        fields = flatten(alert)
        fields["receiver"] = str(payload.get("receiver", ""))
        yield Record(
            parse_time(alert.get("startsAt")) or datetime.now(UTC),
            fields,
            f"{origin}#{index}",
            product="sentier",
            services=("alerts",),
            kind="alert",
            hints=_hints({k.removeprefix("labels."): v for k, v in fields.items()}),
        )


def from_audit(
    event_id: int,
    at: datetime,
    actor: str,
    action: str,
    outcome: str,
    target: str | None,
    ip: str | None,
    user_agent: str | None,
    details: Mapping[str, Any] | None,
) -> Record:
    """An audit log entry (``product: sentier, service: audit``)."""
    document: dict[str, Any] = {
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "target": target,
        "ip": ip,
        "user_agent": user_agent,
        "details": dict(details or {}),
    }
    return Record(
        at if at.tzinfo else at.replace(tzinfo=UTC),
        flatten(document),
        f"audit:{event_id}",
        product="sentier",
        services=("audit",),
        kind="audit",
    )


def from_outbox(event: Mapping[str, Any], origin: str) -> Record | None:
    """A finding or incident change from sentier's own event log (``product: sentier``,
    ``service: findings`` or ``incidents``); None for other event types."""
    kind = str(event.get("type", ""))
    if ".policy.finding." in kind:
        service = "findings"
    elif ".aiops.incident." in kind:
        service = "incidents"
    else:
        return None
    fields = flatten(event)
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    hints = []
    for key in ("entity_ref", "root_cause_ref"):
        if data.get(key):
            hints.append(("entity", str(data[key])))
    if event.get("subject"):
        hints.append(("entity", str(event["subject"])))
    return Record(
        parse_time(event.get("time")) or datetime.now(UTC),
        fields,
        origin,
        product="sentier",
        services=(service,),
        kind=service[:-1],
        hints=tuple(hints),
    )


def record_data(record: Record) -> dict[str, Any]:
    """A record as JSON-ready data (``record_from_data`` reads it back)."""
    return {
        "at": record.at.isoformat(),
        "fields": record.fields,
        "origin": record.origin,
        "product": record.product,
        "services": list(record.services),
        "category": record.category,
        "kind": record.kind,
        "hints": [list(h) for h in record.hints],
        "seq": record.seq,
    }


def record_from_data(data: Mapping[str, Any]) -> Record:
    return Record(
        datetime.fromisoformat(str(data["at"])),
        {str(k): str(v) for k, v in (data.get("fields") or {}).items()},
        str(data.get("origin", "")),
        product=data.get("product"),
        services=tuple(str(s) for s in data.get("services") or ()),
        category=data.get("category"),
        kind=str(data.get("kind", "log")),
        hints=tuple((str(h[0]), str(h[1])) for h in data.get("hints") or () if len(h) == 2),
        seq=int(data.get("seq", 0)),
    )


def logsource_of(text: str) -> dict[str, str]:
    """``product=linux,category=process_creation`` as a mapping; raises DetectError."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in ("product", "service", "category", "host") or not value:
            raise DetectError(
                f"expected product=, service=, category= or host=, got {part!r}",
                field="logsource",
            )
        out[key] = value
    return out
