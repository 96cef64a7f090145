"""Who is asking, and what they may do.

viewer: read everything; editor: also write what their groups own, directly or through child
groups; admin: everything, including tokens and catalog sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["token", "oidc"]
    id: str
    name: str
    role: Role
    groups: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How the audit trail names this principal."""
        return f"{self.kind}:{self.id} ({self.name})"

    def has_role(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def group_refs(self) -> list[str]:
        from sentier.catalog import parse_ref

        return [parse_ref(group, default_kind="group").key for group in self.groups]

    def may_write_owned_by(self, session: Session, owner_ref: str | None) -> bool:
        """Admins write anything; editors what their groups (or child groups) own."""
        if self.has_role("admin"):
            return True
        if not self.has_role("editor") or owner_ref is None:
            return False
        from sentier.catalog import descendant_groups

        owner = owner_ref.lower()
        return any(owner in descendant_groups(session, group) for group in self.group_refs())
