"""Which catalog entity a detection is about, and through it which team owns it.

A record carries hints in order of precision (see ``records``): ``entity`` (a reference or a
name), ``account`` (a cloud account id), ``host``, ``service``. Each hint is looked up, the
first that resolves wins:

- an entity reference (``component:default/checkout``), or an entity's name or title;
- ``backstage.io/kubernetes-id``;
- ``sentier.io/hosts``: host names the entity runs on (comma-separated) — how a syslog host
  (``combo``, ``LabSZ``) finds its service;
- ``sentier.io/cloud-accounts``: cloud account ids (comma-separated) — how a CloudTrail
  event's ``recipientAccountId`` finds the system or group that owns the account.

A detection no hint resolves keeps its best hint (``host combo``) and no entity: it is listed
as unattributed, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

HOSTS_ANNOTATION = "sentier.io/hosts"
ACCOUNTS_ANNOTATION = "sentier.io/cloud-accounts"
KINDS = ("component", "resource", "system", "api", "group", "domain")


def _split(value: object) -> list[str]:
    return [part.strip().lower() for part in str(value or "").split(",") if part.strip()]


@dataclass
class Attributor:
    names: dict[str, str] = field(default_factory=dict)  # lower-cased key -> entity ref
    hosts: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_catalog(cls, session: Session) -> Attributor:
        from sentier.catalog import EntityFilter, list_entities

        out = cls()
        after: str | None = None
        while True:
            page = list_entities(session, EntityFilter(kinds=list(KINDS)), limit=500, after=after)
            for entity in page.items:
                metadata = entity.body.get("metadata") or {}
                annotations = metadata.get("annotations") or {}
                ref = entity.ref
                out.owners[ref] = entity.owner_ref if entity.kind.lower() != "group" else ref
                rank = KINDS.index(entity.kind.lower()) if entity.kind.lower() in KINDS else 9
                for key in (ref.lower(), *_split(entity.title), ref.split("/", 1)[-1].lower()):
                    current = out.names.get(key)
                    if current is None or rank < _rank(current):
                        out.names[key] = ref
                for key in _split(annotations.get("backstage.io/kubernetes-id")):
                    out.names.setdefault(key, ref)
                for host in _split(annotations.get(HOSTS_ANNOTATION)):
                    out.hosts.setdefault(host, ref)
                for account in _split(annotations.get(ACCOUNTS_ANNOTATION)):
                    out.accounts.setdefault(account, ref)
            if not page.next_cursor:
                break
            after = page.next_cursor
        return out

    def resolve(self, hints: tuple[tuple[str, str], ...]) -> tuple[str | None, str | None]:
        """(entity reference or None, the hint shown when nothing resolved)."""
        for kind, value in hints:
            key = value.strip().lower()
            if not key:
                continue
            found = None
            if kind == "account":
                found = self.accounts.get(key)
            elif kind == "host":
                found = self.hosts.get(key) or self.names.get(key)
            else:
                found = self.names.get(key)
            if found:
                return found, None
        first = next(((k, v) for k, v in hints if v.strip()), None)
        return None, f"{first[0]} {first[1]}" if first else None

    def owner_of(self, ref: str | None) -> str | None:
        return self.owners.get(ref) if ref else None


def _rank(ref: str) -> int:
    kind = ref.split(":", 1)[0].lower()
    return KINDS.index(kind) if kind in KINDS else 9


__all__ = ["ACCOUNTS_ANNOTATION", "HOSTS_ANNOTATION", "Attributor"]
