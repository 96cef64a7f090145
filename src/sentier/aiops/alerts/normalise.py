"""Alertmanager (webhook v4), CloudEvents and generic JSON into one ``Alert`` model.

Every function returns the alerts it could read and the problems it met (file, line or
payload index, and field), so that one bad alert never costs the good ones around it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from sentier.aiops.alerts.model import (
    FIRING,
    RESOLVED,
    SEVERITY_WEIGHT,
    Alert,
    normal_severity,
    normal_status,
)
from sentier.aiops.errors import AIOpsError

# Labels and annotations naming the entity an alert is about, most specific first.
ENTITY_KEYS = (
    "entity",
    "backstage.io/entity-ref",
    "backstage.io/kubernetes-id",
    "service",
    "component",
    "app.kubernetes.io/name",
    "app",
    "service_name",
    "resource",
    "job",
)
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "no end yet"
# Times outside these years are a sender's bug (or a fuzzer's), not an alert: refused, so that
# windows and timelines never overflow.
EARLIEST_YEAR, LATEST_YEAR = 1970, 9000
# Column widths of the store; longer values are shortened here, never refused by the database.
NAME_MAX, ENTITY_MAX, SOURCE_MAX, FINGERPRINT_MAX = 255, 512, 64, 128


@dataclass
class Normalised:
    alerts: list[Alert] = field(default_factory=list)
    problems: list[AIOpsError] = field(default_factory=list)

    def add(self, alert: Alert) -> None:
        self.alerts.append(_clean_alert(alert))

    def extend(self, other: Normalised) -> None:
        self.alerts.extend(other.alerts)
        self.problems.extend(other.problems)


def parse_time(value: Any, where: str, field_name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise AIOpsError(f"not a time: {value!r}", file=where, field=field_name)
    if isinstance(value, int | float):
        number = float(value)
        try:
            moment = datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise AIOpsError(f"not a time: {value!r}", file=where, field=field_name) from error
        return _in_range(moment, value, where, field_name)
    if not isinstance(value, str):
        raise AIOpsError(f"not a time: {value!r}", file=where, field=field_name)
    if value.startswith("0001-01-01"):
        return None
    text = value.strip().replace("Z", "+00:00")
    # Go prints nanoseconds; Python takes at most microseconds.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise AIOpsError(f"not a time: {value!r}", file=where, field=field_name) from error
    return _in_range(
        parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), value, where, field_name
    )


def _in_range(moment: datetime, value: Any, where: str, field_name: str) -> datetime:
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise AIOpsError(
            f"time out of range ({EARLIEST_YEAR}..{LATEST_YEAR}): {value!r}",
            file=where,
            field=field_name,
        )
    return moment


def _text(value: Any, limit: int | None = None) -> str:
    """A string the store accepts everywhere: no NUL (PostgreSQL refuses it), bounded."""
    text = str(value).replace("\x00", "")
    return text[:limit] if limit is not None else text


def _clean_alert(alert: Alert) -> Alert:
    alert.name = _text(alert.name, NAME_MAX)
    alert.source = _text(alert.source, SOURCE_MAX)
    if len(alert.fingerprint) > FINGERPRINT_MAX or "\x00" in alert.fingerprint:
        alert.fingerprint = hashlib.sha256(alert.fingerprint.encode()).hexdigest()[:32]
    if alert.entity_hint is not None:
        alert.entity_hint = _text(alert.entity_hint, ENTITY_MAX)
    if alert.summary is not None:
        alert.summary = _text(alert.summary)
    return alert


def _strings(value: Any, where: str, field_name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AIOpsError("must be an object of strings", file=where, field=field_name)
    out: dict[str, str] = {}
    for key, item in value.items():
        key = key if type(key) is str else str(key)
        text = "" if item is None else item if type(item) is str else str(item)
        if "\x00" in key or "\x00" in text:  # rare: only then pay for cleaning
            key, text = _text(key), _text(text)
        out[key] = text
    return out


def entity_hint(labels: Mapping[str, str], annotations: Mapping[str, str]) -> str | None:
    for key in ENTITY_KEYS:
        for source in (labels, annotations):
            value = source.get(key)
            if value:
                return value
    return None


def fingerprint_of(source: str, name: str, labels: Mapping[str, str]) -> str:
    """Alertmanager's idea of identity: the alert's name and label set, stably hashed."""
    body = json.dumps([source, name, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _strength(severity: str, labels: Mapping[str, str], annotations: Mapping[str, str]) -> float:
    for source in (annotations, labels):
        raw = source.get("anomaly_score") or source.get("score")
        if raw:
            try:
                return max(0.0, min(1.0, float(raw)))
            except ValueError:
                pass
    return SEVERITY_WEIGHT.get(severity, 0.5)


def from_alertmanager(payload: Mapping[str, Any], where: str) -> Normalised:
    """An Alertmanager webhook (version 4) payload: one alert per entry of ``alerts``."""
    out = Normalised()
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        out.problems.append(AIOpsError("no 'alerts' list", file=where, field="alerts"))
        return out
    common_labels = payload.get("commonLabels") or {}
    for index, item in enumerate(alerts):
        here = f"alerts[{index}]"
        try:
            if not isinstance(item, Mapping):
                raise AIOpsError("an alert must be an object", file=where, field=here)
            labels = {**_strings(common_labels, where, "commonLabels")}
            labels.update(_strings(item.get("labels"), where, f"{here}.labels"))
            annotations = _strings(item.get("annotations"), where, f"{here}.annotations")
            name = labels.get("alertname")
            if not name:
                raise AIOpsError("missing", file=where, field=f"{here}.labels.alertname")
            status = normal_status(item.get("status") or payload.get("status"))
            if status is None:
                raise AIOpsError(
                    f"unknown status {item.get('status')!r}", file=where, field=f"{here}.status"
                )
            starts = parse_time(item.get("startsAt"), where, f"{here}.startsAt")
            if starts is None:
                raise AIOpsError("missing", file=where, field=f"{here}.startsAt")
            ends = parse_time(item.get("endsAt"), where, f"{here}.endsAt")
            severity = normal_severity(labels.get("severity") or labels.get("priority"))
            fingerprint = str(item.get("fingerprint") or fingerprint_of("am", name, labels))
            out.add(
                Alert(
                    source="alertmanager",
                    fingerprint=fingerprint,
                    name=name,
                    status=status,
                    severity=severity,
                    starts_at=starts,
                    ends_at=ends if status == RESOLVED else None,
                    summary=annotations.get("summary") or annotations.get("description"),
                    labels=labels,
                    annotations=annotations,
                    entity_hint=entity_hint(labels, annotations),
                    strength=_strength(severity, labels, annotations),
                    origin=f"{where} {here}",
                )
            )
        except AIOpsError as error:
            out.problems.append(error)
    return out


def from_cloudevent(event: Mapping[str, Any], where: str) -> Normalised:
    """A CloudEvent (structured JSON) whose ``data`` describes one alert."""
    out = Normalised()
    try:
        for required in ("specversion", "id", "source", "type"):
            if not event.get(required):
                raise AIOpsError("missing", file=where, field=required)
        data = event.get("data") or {}
        if not isinstance(data, Mapping):
            raise AIOpsError("must be an object", file=where, field="data")
        labels = _strings(data.get("labels"), where, "data.labels")
        annotations = _strings(data.get("annotations"), where, "data.annotations")
        name = str(data.get("alertname") or data.get("name") or labels.get("alertname") or "")
        name = name or str(event["type"]).rsplit(".", 1)[-1]
        raw_status = data.get("status") or (
            "resolved" if "resolved" in str(event["type"]) else "firing"
        )
        status = normal_status(raw_status)
        if status is None:
            raise AIOpsError(f"unknown status {raw_status!r}", file=where, field="data.status")
        starts = parse_time(
            data.get("startsAt") or data.get("starts_at") or event.get("time"), where, "time"
        )
        if starts is None:
            raise AIOpsError("no start time (data.startsAt or time)", file=where, field="time")
        ends = parse_time(data.get("endsAt") or data.get("ends_at"), where, "data.endsAt")
        if status == RESOLVED and ends is None:
            ends = parse_time(event.get("time"), where, "time")
        severity = normal_severity(data.get("severity") or labels.get("severity"))
        for key in ("service", "component", "entity"):
            if data.get(key) and key not in labels:
                labels[key] = str(data[key])
        hint = entity_hint(labels, annotations) or (
            str(event["subject"]) if event.get("subject") else None
        )
        fingerprint = str(
            data.get("fingerprint") or fingerprint_of(str(event["source"]), name, labels)
        )
        out.add(
            Alert(
                source="cloudevents",
                fingerprint=fingerprint,
                name=name,
                status=status,
                severity=severity,
                starts_at=starts,
                ends_at=ends if status == RESOLVED else None,
                summary=str(data.get("summary") or annotations.get("summary") or "") or None,
                labels=labels,
                annotations=annotations,
                entity_hint=hint,
                strength=_strength(severity, labels, annotations),
                origin=where,
            )
        )
    except AIOpsError as error:
        out.problems.append(error)
    return out


@dataclass(frozen=True)
class GenericMapping:
    """Where each field of our model lives in someone's JSON (dotted paths)."""

    name: str = "name"
    status: str = "status"
    severity: str = "severity"
    starts_at: str = "starts_at"
    ends_at: str = "ends_at"
    summary: str = "summary"
    entity: str = "service"
    labels: str = "labels"
    fingerprint: str = "fingerprint"
    source: str = "generic"

    @classmethod
    def load(cls, path: Path) -> GenericMapping:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise AIOpsError(f"cannot read mapping: {error}", file=str(path)) from error
        if not isinstance(data, dict):
            raise AIOpsError("a mapping must be an object of field: path", file=str(path))
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise AIOpsError(f"unknown fields {sorted(unknown)}", file=str(path))
        return cls(**{k: str(v) for k, v in data.items()})


def _path(document: Any, dotted: str) -> Any:
    current = document
    for part in dotted.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def from_generic(document: Mapping[str, Any], where: str, mapping: GenericMapping) -> Normalised:
    out = Normalised()
    try:
        name = _path(document, mapping.name)
        if not name:
            raise AIOpsError("missing", file=where, field=mapping.name)
        raw_status = _path(document, mapping.status) or FIRING
        status = normal_status(raw_status)
        if status is None:
            raise AIOpsError(f"unknown status {raw_status!r}", file=where, field=mapping.status)
        starts = parse_time(_path(document, mapping.starts_at), where, mapping.starts_at)
        if starts is None:
            raise AIOpsError("missing", file=where, field=mapping.starts_at)
        ends = parse_time(_path(document, mapping.ends_at), where, mapping.ends_at)
        labels = _strings(_path(document, mapping.labels), where, mapping.labels)
        entity = _path(document, mapping.entity)
        if entity and "service" not in labels:
            labels["service"] = str(entity)
        severity = normal_severity(_path(document, mapping.severity))
        fingerprint = _path(document, mapping.fingerprint) or fingerprint_of(
            mapping.source, str(name), labels
        )
        summary = _path(document, mapping.summary)
        out.add(
            Alert(
                source=mapping.source,
                fingerprint=str(fingerprint),
                name=str(name),
                status=status,
                severity=severity,
                starts_at=starts,
                ends_at=ends if status == RESOLVED else None,
                summary=str(summary) if summary else None,
                labels=labels,
                entity_hint=entity_hint(labels, {}),
                strength=_strength(severity, labels, {}),
                origin=where,
            )
        )
    except AIOpsError as error:
        out.problems.append(error)
    return out


def normalise(document: Any, where: str, mapping: GenericMapping | None = None) -> Normalised:
    """Any supported payload: Alertmanager, a CloudEvent, a generic object, or a list."""
    if isinstance(document, list):
        out = Normalised()
        for index, item in enumerate(document):
            out.extend(normalise(item, f"{where}[{index}]", mapping))
        return out
    if not isinstance(document, Mapping):
        return Normalised(problems=[AIOpsError("an alert payload must be an object", file=where)])
    if "alerts" in document and ("version" in document or "receiver" in document):
        return from_alertmanager(document, where)
    if "specversion" in document:
        return from_cloudevent(document, where)
    return from_generic(document, where, mapping or GenericMapping())


def normalise_text(text: str, source: str, mapping: GenericMapping | None = None) -> Normalised:
    """A file's text: one JSON document, or JSON Lines (one payload per line)."""
    stripped = text.strip()
    if not stripped:
        return Normalised()
    try:
        return normalise(json.loads(stripped), source, mapping)
    except json.JSONDecodeError as whole_error:
        if "\n" not in stripped:
            return Normalised(
                problems=[
                    AIOpsError(f"not JSON: {whole_error.msg}", file=source, line=whole_error.lineno)
                ]
            )
    out = Normalised()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as error:
            out.problems.append(AIOpsError(f"not JSON: {error.msg}", file=source, line=number))
            continue
        out.extend(normalise(document, f"{source}:{number}", mapping))
    return out


def sort_for_replay(alerts: Iterable[Alert]) -> list[Alert]:
    """Notifications in the order they happened (resolutions at their end time)."""
    return sorted(alerts, key=lambda a: (a.at, a.status == FIRING))
