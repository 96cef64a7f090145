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
from collections.abc import Callable, Iterator
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
    # A line of another length joins a template whose words it repeats, when every stretch
    # where they differ holds or touches a value (a value may span words: "1217 bytes
    # (1.1 KB)", "<1 sec"), up to this many words apart in length (0: never).
    spread: int = 6
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
            "spread": self.spread,
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
                spread=int(data.get("spread", defaults.spread)),
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
        # Families whose lines are, word for word, another template with values of other
        # lengths: family id -> that template's id (see _align).
        self._alias: dict[int, int] = {}
        self._merged: dict[int, Template] = {}  # representative id -> merged view (cached)
        self._by_word: dict[str, set[int]] = {}  # constant word -> families it began in

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
        alias = self._alias.get(family.id)
        if alias is not None:
            return Mined(alias, template.text, member.id)
        return Mined(template.id, template.text, member.id)

    def _place(self, masked: str) -> _Member:
        tokens = masked.split()
        family = self._best_family(tokens)
        if family is None:
            family = self._new_family(tokens)
            target = self._other_length(tokens) if self.settings.spread else None
            if target is not None:
                self._alias[family.id] = target
                self._merged.pop(target, None)
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
        self._index_words(family)
        return family

    def _index_words(self, family: _Family) -> None:
        # Merging only ever turns words into wildcards, so the words a family began with are
        # a superset of its constant words: enough to find candidates.
        if self.settings.spread:
            for word in set(family.tokens):
                if WILDCARD not in word:
                    self._by_word.setdefault(word, set()).add(family.id)

    # -- values spanning several words ----------------------------------------------------------

    def _other_length(self, tokens: list[str]) -> int | None:
        """The template of another length this line repeats word for word, but for values of
        other lengths (its representative id), or None. Only families sharing enough of its
        constant words (found through an index of words) are aligned with it."""
        settings = self.settings
        constants = {t for t in tokens if WILDCARD not in t}
        if not constants:
            return None
        shared: dict[int, int] = {}
        for word in constants:
            for family_id in self._by_word.get(word, ()):
                shared[family_id] = shared.get(family_id, 0) + 1
        needed = settings.similarity * len(constants)
        best: tuple[int, int] | None = None
        length = len(tokens)
        for family_id, count in shared.items():
            family = self._families.get(family_id)
            if (
                family is None
                or count < needed
                or family.id in self._alias
                or len(family.tokens) == length
                or abs(len(family.tokens) - length) > settings.spread
            ):
                continue
            for template in family.views.values():
                matched = _align(template.tokens, tokens, settings.similarity)
                if matched is not None and (best is None or matched > best[0]):
                    best = (matched, template.id)
        return best[1] if best else None

    def _representative(self, member: _Member) -> Template | None:
        """The template a line finally belongs to, values of other lengths merged in."""
        template = member.template
        if template is None:
            return None
        target = self._alias.get(member.family.id)
        if target is None:
            grouped = [f for f, t in self._alias.items() if t == template.id]
            return self._merged_view(template.id) if grouped else template
        return self._merged_view(target)

    def _merged_view(self, target: int) -> Template | None:
        cached = self._merged.get(target)
        if cached is not None:
            return cached
        own = next(
            (t for f in self._families.values() for t in f.views.values() if t.id == target), None
        )
        if own is None:
            return None
        tokens, count = list(own.tokens), own.count
        for family_id, alias in sorted(self._alias.items()):
            family = self._families.get(family_id)
            if alias != target or family is None:
                continue
            for view in family.views.values():
                tokens = _merge_aligned(tokens, view.tokens, self._merge_token)
                count += view.count
        merged = Template(target, tokens, count)
        self._merged[target] = merged
        return merged

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
        if self._merged:
            self._merged.clear()
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
        self._alias = {f: t for f, t in self._alias.items() if f in self._families}
        self._merged.clear()
        self._by_word = {}
        for family in self._families.values():
            self._index_words(family)
        self._members = {k: m for k, m in self._members.items() if m.family.id in self._families}

    def _shrink_cache(self) -> None:
        items = list(self._cache.items())
        self._cache = dict(items[len(items) // 2 :])

    # -- reading the state ------------------------------------------------------------------

    def templates(self) -> list[Template]:
        """Current templates by id (those of other lengths merged into the one they repeat)."""
        found: list[Template] = []
        for family in self._families.values():
            if family.id in self._alias:
                continue
            for template in family.views.values():
                if any(t == template.id for t in self._alias.values()):
                    merged = self._merged_view(template.id)
                    found.append(merged if merged is not None else template)
                else:
                    found.append(template)
        return sorted(found, key=lambda t: t.id)

    def template_of(self, signature: int) -> Template | None:
        """The current template of a line, by the ``signature`` ``add`` returned."""
        member = self._members.get(signature)
        return self._representative(member) if member else None

    def __len__(self) -> int:
        return sum(len(f.views) for f in self._families.values() if f.id not in self._alias)

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
            "aliases": [[f, t] for f, t in sorted(self._alias.items())],
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
                miner._index_words(family)
                miner._refresh(family)
            miner._alias = {int(f): int(t) for f, t in data.get("aliases", [])}
        except (KeyError, TypeError, ValueError) as error:
            raise AIOpsError(f"bad template snapshot: {error}", field="families") from error
        return miner


def _variable(token: str) -> bool:
    return WILDCARD in token


def _alignment(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """Longest common subsequence of two token lists: equal words, or two values."""
    rows, cols = len(a), len(b)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            x, y = a[i], b[j]
            if x == y or (_variable(x) and _variable(y)):
                table[i][j] = table[i + 1][j + 1] + 1
            else:
                table[i][j] = max(table[i + 1][j], table[i][j + 1])
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < rows and j < cols:
        x, y = a[i], b[j]
        if (x == y or (_variable(x) and _variable(y))) and table[i][j] == table[i + 1][j + 1] + 1:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _gaps(
    a: list[str], b: list[str], pairs: list[tuple[int, int]]
) -> Iterator[tuple[list[str], list[str], bool, bool]]:
    """The stretches where ``a`` and ``b`` differ, each side with whether a value precedes it."""
    previous = (-1, -1)
    for pair in [*pairs, (len(a), len(b))]:
        left, right = a[previous[0] + 1 : pair[0]], b[previous[1] + 1 : pair[1]]
        if left or right:
            after_a = previous[0] >= 0 and _variable(a[previous[0]])
            after_b = previous[1] >= 0 and _variable(b[previous[1]])
            yield left, right, after_a, after_b
        previous = pair


_UNIT = re.compile(r"[A-Za-z]{1,5}[),;.]?")  # "sec", "KB)", "ms," (not "src:", a label)


def _value_stretch(tokens: list[str], after_value: bool) -> bool:
    """Whether ``tokens`` (where two lines differ) is part of a value: values, a parenthesised
    group holding a value ("(<*> KB)"), or one short unit word right after a value ("sec")."""
    index = 0
    previous_is_value = after_value
    while index < len(tokens):
        token = tokens[index]
        if _variable(token):
            index, previous_is_value = index + 1, True
            continue
        if token.startswith("("):
            end = index
            while end < len(tokens) and not tokens[end].endswith(")"):
                end += 1
            group = tokens[index : end + 1]
            if end == len(tokens) or not any(_variable(t) for t in group):
                return False
            index, previous_is_value = end + 1, True
            continue
        if previous_is_value and _UNIT.fullmatch(token):
            index, previous_is_value = index + 1, False
            continue
        return False
    return True


def _align(template: list[str], tokens: list[str], similarity: float) -> int | None:
    """How many words ``tokens`` shares with ``template`` when the two are the same event with
    values written at other lengths, or None when they are not.

    They are when most of each one's constant words appear in the other, in order, and every
    stretch where they differ is part of a value on both sides: a value, a parenthesised
    group holding one, one short unit word after one. So "<*> bytes (<*> KB) sent" is
    "<*> bytes sent" with the size restated, and "lifetime <*> sec" is "lifetime <*>:<*>";
    but "for invalid user <*>" is not "for <*>", nor "rhost=<*> user=<*>" "rhost=<*>":
    words, even next to a value, make another event.
    """
    pairs = _alignment(template, tokens)
    shared = sum(1 for i, _ in pairs if not _variable(template[i]))
    if not shared:
        return None
    for side in (template, tokens):
        constants = sum(1 for t in side if not _variable(t))
        if shared < similarity * constants:
            return None
    for left, right, after_left, after_right in _gaps(template, tokens, pairs):
        if not (_value_stretch(left, after_left) and _value_stretch(right, after_right)):
            return None
    return len(pairs)


def _merge_aligned(
    template: list[str], tokens: list[str], merge_token: Callable[[str, str], str]
) -> list[str]:
    """``template`` generalised by ``tokens``: each stretch where they differ is one value."""
    pairs = _alignment(template, tokens)
    out: list[str] = []
    previous = (-1, -1)
    for pair in [*pairs, (len(template), len(tokens))]:
        gap = pair[0] - previous[0] > 1 or pair[1] - previous[1] > 1
        if gap and not (out and out[-1] == WILDCARD):
            out.append(WILDCARD)
        if pair[0] < len(template):
            x, y = template[pair[0]], tokens[pair[1]]
            token = x if x == y else merge_token(x, y)
            if not (token == WILDCARD and out and out[-1] == WILDCARD):
                out.append(token)
        previous = pair
    return out


def parameters(template: str, content: str) -> list[str] | None:
    """The values of ``template``'s ``<*>`` in ``content``; None when it does not fit. A
    ``<*>`` standing as a word of its own may be empty (a value some lines leave out, such as
    a size restated in parentheses): its value is then ``""``."""
    pattern = _template_regex(template)
    found = pattern.match(" ".join(content.split()))
    return [g or "" for g in found.groups()] if found else None


_regex_cache: dict[str, re.Pattern[str]] = {}


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = _regex_cache.get(template)
    if pattern is None:
        parts = []
        for index, token in enumerate(template.split(" ")):
            if token == WILDCARD:
                parts.append("(?:(.*?) )?" if index == 0 else "(?: (.*?))?")
                continue
            piece = "(.*?)".join(re.escape(p) for p in token.split(WILDCARD))
            lead = index > 0 and not (index == 1 and template.startswith(WILDCARD + " "))
            parts.append((" " if lead else "") + piece)
        pattern = re.compile("^" + "".join(parts) + "$", re.DOTALL)
        if len(_regex_cache) > 10_000:
            _regex_cache.clear()
        _regex_cache[template] = pattern
    return pattern
