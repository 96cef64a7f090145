"""A streaming log template miner: line in, template out, in bounded memory.

Why not drain3 (the field's reference)? Three weaknesses we measured on Loghub: its fixed-depth
prefix tree keys on the first words, so a line starting with a variable word (a host name, a
user) never meets its template; its masks are applied one regex after another, which dominates
its time; and on endless input its clusters keep growing (1,514 instead of 17 on HDFS repeated
to a million lines). This miner:

1. masks variable words in ONE regex pass (``masks.py``), so most lines reduce to a string
   already seen: a dictionary lookup gives their template (the fast path);
2. otherwise compares the masked words with the templates of the same length, position by
   position, and joins the closest one when enough of ITS constant words agree; differing
   words become ``<*>`` (within a word, only the differing parts, so ``host:<*>`` and
   ``other:<*>`` give ``<*>:<*>``);
3. keeps at most ``max_templates`` templates (least recently seen go first) and a bounded
   cache of masked strings, so memory stays flat on endless input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sentier.aiops.errors import AIOpsError
from sentier.aiops.logs.masks import (
    WILDCARD,
    Mask,
    MaskSet,
    compile_substring_masks,
    default_masks,
    mask_from_dict,
)

SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class MinerSettings:
    """How the miner decides; the defaults are one configuration for every source."""

    # Share of a family's constant words a new line must repeat to join the family.
    similarity: float = 0.5
    # A column where members differ is a variable when it has this many distinct words...
    open_values: int = 10
    # ...or when its words repeat less than this on average (a closed vocabulary repeats).
    repeats: float = 3.0
    # ...or when several of its words were seen only a few times (an open vocabulary's tail).
    rare_lines: int = 3
    rare_values: int = 2
    max_templates: int = 20_000
    max_members: int = 400
    max_cache: int = 200_000
    extra_masks: tuple[Mask, ...] = ()
    masks: MaskSet = field(default_factory=default_masks)

    @property
    def mask_set(self) -> MaskSet:
        return self.masks

    def as_dict(self) -> dict[str, Any]:
        return {
            "similarity": self.similarity,
            "open_values": self.open_values,
            "repeats": self.repeats,
            "max_templates": self.max_templates,
            "max_members": self.max_members,
            "max_cache": self.max_cache,
            "extra_masks": [{"name": m.name, "pattern": m.pattern} for m in self.extra_masks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MinerSettings:
        defaults = cls()
        try:
            return cls(
                similarity=float(data.get("similarity", defaults.similarity)),
                open_values=int(data.get("open_values", defaults.open_values)),
                repeats=float(data.get("repeats", defaults.repeats)),
                max_templates=int(data.get("max_templates", defaults.max_templates)),
                max_members=int(data.get("max_members", defaults.max_members)),
                max_cache=int(data.get("max_cache", defaults.max_cache)),
                extra_masks=tuple(
                    mask_from_dict(m, f"extra_masks[{i}]")
                    for i, m in enumerate(data.get("extra_masks") or [])
                ),
            )
        except (TypeError, ValueError) as error:
            raise AIOpsError(f"bad miner settings: {error}", field="settings") from error


@dataclass(slots=True)
class Template:
    """A template as users see it: an id that stays, its text, how many lines it covered."""

    id: int
    tokens: list[str]
    count: int = 0

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


@dataclass(frozen=True, slots=True)
class Mined:
    """What the miner says about one line: its template now, and the line's masked form id."""

    template_id: int
    template: str
    signature: int


@dataclass(slots=True, eq=False)
class _Member:
    """One masked form of a line (a signature) and how many lines had it."""

    id: int
    tokens: list[str]
    count: int
    family: _Family
    template: Template | None = None
    template_id: int = 0


@dataclass(slots=True, eq=False)
class _Family:
    """Signatures of one length similar enough to be one template or a few siblings."""

    id: int
    tokens: list[str]
    constants: int
    members: list[_Member] = field(default_factory=list)
    count: int = 0
    last_seen: int = 0
    refresh_at: int = 0
    dirty: bool = True
    varying: list[int] = field(default_factory=list)
    views: dict[tuple[str, ...], Template] = field(default_factory=dict)


def _constants(tokens: list[str]) -> int:
    return sum(1 for token in tokens if token != WILDCARD)


class TemplateMiner:
    """Feed message contents (header already split off) with :meth:`add`.

    Lines are grouped in two steps. A *family* gathers masked lines of one length that share
    enough constant words (Drain's idea, without its prefix tree). Within a family, every
    column where the lines differ is judged on what was seen there: many distinct words, or
    words that rarely repeat, make a variable (user names, hosts); a few words that keep
    repeating are a closed vocabulary (GET/POST/DELETE, started/stopped) and split the family
    into sibling templates. The judgement is revised as counts grow, so a line's template
    can still sharpen after it was first returned; ``refresh()`` settles every family.
    """

    def __init__(self, settings: MinerSettings | None = None) -> None:
        self.settings = settings or MinerSettings()
        masks = self.settings.mask_set
        self._mask = masks.compile()
        self._pre_mask = compile_substring_masks(self.settings.extra_masks)
        self._split_words = re.compile(f"([{masks.separator_class}]+)")
        self._families: dict[int, _Family] = {}
        self._by_length: dict[int, list[_Family]] = {}
        self._cache: dict[str, _Member] = {}
        self._members: dict[int, _Member] = {}
        self._next_family = 1
        self._next_member = 1
        self._next_template = 1
        self.lines = 0

    # -- the stream -----------------------------------------------------------------------

    def add(self, content: str) -> Mined:
        """Mine one line; O(1) when its masked form was seen before."""
        self.lines += 1
        if self._pre_mask is not None:
            content = self._pre_mask.sub(WILDCARD, content)
        masked = self._mask.sub(WILDCARD, content)
        member = self._cache.get(masked)
        if member is None:
            member = self._place(masked)
        member.count += 1
        family = member.family
        family.count += 1
        family.last_seen = self.lines
        if family.count >= family.refresh_at or (family.dirty and not self._place_quickly(member)):
            self._refresh(family)
        template = member.template
        assert template is not None
        return Mined(template.id, template.text, member.id)

    def _place(self, masked: str) -> _Member:
        tokens = masked.split()
        family = self._best_family(tokens)
        if family is None:
            family = self._new_family(tokens)
        else:
            merged = self._merge(family.tokens, tokens)
            if merged != family.tokens:
                family.tokens = merged
                family.constants = _constants(merged)
        if len(family.members) >= self.settings.max_members:
            member = self._fold(family, tokens)
        else:
            member = _Member(self._next_member, tokens, 0, family)
            self._next_member += 1
            family.members.append(member)
            self._members[member.id] = member
        family.dirty = True
        if len(self._cache) >= self.settings.max_cache:
            self._shrink_cache()
        self._cache[masked] = member
        return member

    def _fold(self, family: _Family, tokens: list[str]) -> _Member:
        """A family at its member bound: the closest member absorbs the line, generalised."""
        best = max(
            family.members,
            key=lambda m: sum(a == b for a, b in zip(m.tokens, tokens, strict=True)),
        )
        best.tokens = self._merge(best.tokens, tokens)
        return best

    def _best_family(self, tokens: list[str]) -> _Family | None:
        candidates = self._by_length.get(len(tokens))
        if not candidates:
            return None
        best: _Family | None = None
        best_score = -1.0
        line_constants = _constants(tokens)
        for family in candidates:
            if family.constants == 0:
                score = 1.0 if line_constants == 0 else 0.0
            else:
                same = 0
                for mine, theirs in zip(family.tokens, tokens, strict=True):
                    if mine == theirs and mine != WILDCARD:
                        same += 1
                score = same / family.constants
            if score > best_score:
                best, best_score = family, score
        return best if best_score >= self.settings.similarity else None

    def _new_family(self, tokens: list[str]) -> _Family:
        if len(self._families) >= self.settings.max_templates:
            self._evict()
        family = _Family(self._next_family, list(tokens), _constants(tokens))
        self._next_family += 1
        self._families[family.id] = family
        self._by_length.setdefault(len(tokens), []).append(family)
        return family

    # -- judging columns ------------------------------------------------------------------------

    def _open_columns(self, family: _Family) -> set[int]:
        """Columns of the family that hold a variable (see the class docstring)."""
        settings = self.settings
        opened: set[int] = set()
        members = family.members
        for column in range(len(family.tokens)):
            counts: dict[str, int] = {}
            masked = False
            for member in members:
                value = member.tokens[column]
                if WILDCARD in value:
                    masked = True
                    break
                counts[value] = counts.get(value, 0) + member.count
            if masked:
                opened.add(column)
                continue
            distinct = len(counts)
            if distinct <= 1:
                continue
            lines = sum(counts.values())
            rare = sum(1 for n in counts.values() if n <= settings.rare_lines)
            if (
                distinct >= settings.open_values
                or lines / distinct < settings.repeats
                or rare >= settings.rare_values
            ):
                opened.add(column)
        return opened

    def _place_quickly(self, member: _Member) -> bool:
        """A new member of a large family joins the view its words select, if there is one.

        Re-judging a family costs a pass over its members; doing it for every new masked
        form would be quadratic, so large families are re-judged as their counts double.
        """
        family = member.family
        if len(family.members) < 32 or not family.views:
            return False
        key = tuple(member.tokens[i] for i in family.varying)
        template = family.views.get(key)
        if template is None or not self._fits(template.tokens, member.tokens):
            return False
        member.template = template
        member.template_id = template.id
        family.dirty = False
        return True

    @staticmethod
    def _fits(template: list[str], tokens: list[str]) -> bool:
        return all(a in (b, WILDCARD) for a, b in zip(template, tokens, strict=True))

    def _refresh(self, family: _Family) -> None:
        opened = self._open_columns(family)
        groups: dict[tuple[str, ...], list[_Member]] = {}
        varying = [i for i in range(len(family.tokens)) if i not in opened]
        family.varying = varying
        for member in family.members:
            key = tuple(member.tokens[i] for i in varying)
            groups.setdefault(key, []).append(member)
        views: dict[tuple[str, ...], Template] = {}
        taken: set[int] = set()
        # Larger groups first keep the ids their members had, so ids survive a regrouping.
        for key, members in sorted(groups.items(), key=lambda kv: -sum(m.count for m in kv[1])):
            tokens = list(members[0].tokens)
            for other in members[1:]:
                tokens = self._merge(tokens, other.tokens)
            for column in opened:
                if WILDCARD not in tokens[column]:
                    tokens[column] = family.tokens[column]
            previous = sorted(
                {m.template_id for m in members if m.template_id and m.template_id not in taken}
            )
            if previous:
                template_id = previous[0]
            else:
                template_id = self._next_template
                self._next_template += 1
            taken.add(template_id)
            template = Template(template_id, tokens, sum(m.count for m in members))
            views[key] = template
            for member in members:
                member.template = template
                member.template_id = template_id
        family.views = views
        family.dirty = False
        family.refresh_at = max(family.count * 2, family.count + 16)

    def refresh(self) -> None:
        """Settle every family's templates on everything seen so far."""
        for family in self._families.values():
            self._refresh(family)

    # -- merging words ----------------------------------------------------------------------------

    def _merge(self, mine: list[str], theirs: list[str]) -> list[str]:
        return [a if a == b else self._merge_token(a, b) for a, b in zip(mine, theirs, strict=True)]

    def _merge_token(self, a: str, b: str) -> str:
        if a == WILDCARD or b == WILDCARD:
            return WILDCARD
        parts_a = self._split_words.split(a)
        parts_b = self._split_words.split(b)
        # Same separators in the same places: only the differing words become variables.
        if len(parts_a) > 1 and len(parts_a) == len(parts_b) and parts_a[1::2] == parts_b[1::2]:
            words = [x if x == y else WILDCARD for x, y in zip(parts_a, parts_b, strict=True)]
            merged = "".join(words)
            if merged.replace(WILDCARD, "").strip(self.settings.mask_set.separators):
                return merged
        return WILDCARD

    # -- bounds -----------------------------------------------------------------------------------

    def _evict(self) -> None:
        """Forget the least recently seen tenth of the families (bounded memory)."""
        keep = len(self._families) - max(1, self.settings.max_templates // 10)
        ordered = sorted(self._families.values(), key=lambda f: f.last_seen, reverse=True)
        self._families = {f.id: f for f in sorted(ordered[:keep], key=lambda f: f.id)}
        self._by_length = {}
        for family in self._families.values():
            self._by_length.setdefault(len(family.tokens), []).append(family)
        self._cache = {k: m for k, m in self._cache.items() if m.family.id in self._families}
        self._members = {k: m for k, m in self._members.items() if m.family.id in self._families}

    def _shrink_cache(self) -> None:
        items = list(self._cache.items())
        self._cache = dict(items[len(items) // 2 :])

    # -- reading the state ------------------------------------------------------------------

    def templates(self) -> list[Template]:
        """Current templates by id."""
        found = [t for f in self._families.values() for t in f.views.values()]
        return sorted(found, key=lambda t: t.id)

    def template_of(self, signature: int) -> Template | None:
        """The current template of a line, by the ``signature`` ``add`` returned."""
        member = self._members.get(signature)
        return member.template if member else None

    def __len__(self) -> int:
        return sum(len(f.views) for f in self._families.values())

    def __iter__(self) -> Iterator[Template]:
        return iter(self.templates())

    # -- persistence --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain data to store and reload; the cache is rebuilt on demand, not saved."""
        return {
            "version": SNAPSHOT_VERSION,
            "settings": self.settings.as_dict(),
            "lines": self.lines,
            "next": [self._next_family, self._next_member, self._next_template],
            "families": [
                {
                    "id": f.id,
                    "tokens": f.tokens,
                    "last_seen": f.last_seen,
                    "members": [[m.id, m.tokens, m.count, m.template_id] for m in f.members],
                }
                for f in self._families.values()
            ],
        }

    @classmethod
    def restore(cls, data: dict[str, Any], settings: MinerSettings | None = None) -> TemplateMiner:
        """A miner in the state ``snapshot`` saved (with the same or given settings)."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise AIOpsError(
                f"unsupported template snapshot version {data.get('version')!r}",
                field="version",
            )
        miner = cls(settings or MinerSettings.from_dict(data.get("settings") or {}))
        try:
            miner.lines = int(data.get("lines", 0))
            miner._next_family, miner._next_member, miner._next_template = (
                int(n) for n in data["next"]
            )
            for index, item in enumerate(data.get("families", [])):
                tokens = [str(t) for t in item["tokens"]]
                family = _Family(int(item["id"]), tokens, _constants(tokens))
                family.last_seen = int(item.get("last_seen", 0))
                for member_id, member_tokens, count, template_id in item["members"]:
                    member = _Member(int(member_id), [str(t) for t in member_tokens], 0, family)
                    member.count = int(count)
                    member.template_id = int(template_id)
                    family.count += member.count
                    family.members.append(member)
                    miner._members[member.id] = member
                if not family.members:
                    raise AIOpsError("a family without members", field=f"families[{index}]")
                miner._families[family.id] = family
                miner._by_length.setdefault(len(tokens), []).append(family)
                miner._refresh(family)
        except (KeyError, TypeError, ValueError) as error:
            raise AIOpsError(f"bad template snapshot: {error}", field="families") from error
        return miner


def parameters(template: str, content: str) -> list[str] | None:
    """The values of ``template``'s ``<*>`` in ``content``; None when it does not fit."""
    pattern = _template_regex(template)
    found = pattern.match(" ".join(content.split()))
    return list(found.groups()) if found else None


_regex_cache: dict[str, re.Pattern[str]] = {}


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = _regex_cache.get(template)
    if pattern is None:
        pieces = [re.escape(piece) for piece in template.split(WILDCARD)]
        pattern = re.compile("^" + "(.*?)".join(pieces) + "$", re.DOTALL)
        if len(_regex_cache) > 10_000:
            _regex_cache.clear()
        _regex_cache[template] = pattern
    return pattern
