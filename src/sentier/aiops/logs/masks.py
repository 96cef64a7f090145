"""Variable masks: which words of a log line are values rather than words of the message.

Masks are data (``default-masks.yaml`` beside this module), matched against whole words; in
a pattern, ``{sep}`` stands for the separator characters. All of them are compiled into ONE
regular expression applied in a single pass over the line, because a pass per mask would
dominate the miner's time. Per-source settings may add substring masks (Loghub-style regexes,
matched anywhere), applied in one more pass before the word masks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from sentier.aiops.errors import AIOpsError

WILDCARD = "<*>"


@dataclass(frozen=True, slots=True)
class Mask:
    """One kind of variable word, with the examples that pin down what it means."""

    name: str
    pattern: str
    why: str = ""
    matches: tuple[str, ...] = ()
    ignores: tuple[str, ...] = ()


@dataclass(frozen=True)
class MaskSet:
    """Separators plus masks, compiled into one substitution."""

    separators: str
    masks: tuple[Mask, ...] = field(default_factory=tuple)

    @property
    def separator_class(self) -> str:
        return r"\s" + re.escape(self.separators)

    def expanded(self, mask: Mask) -> str:
        return mask.pattern.replace("{sep}", self.separator_class)

    def compile(self) -> re.Pattern[str]:
        return _compile(self.separators, tuple(m.pattern for m in self.masks))


@lru_cache(maxsize=32)
def _compile(separators: str, patterns: tuple[str, ...]) -> re.Pattern[str]:
    sep = r"\s" + re.escape(separators)
    body = "|".join(f"(?:{p.replace('{sep}', sep)})" for p in patterns)
    try:
        return re.compile(f"(?<![^{sep}])(?:{body})(?![^{sep}])")
    except re.error as error:
        raise AIOpsError(f"invalid mask pattern: {error}", field="masks") from error


def compile_substring_masks(masks: tuple[Mask, ...]) -> re.Pattern[str] | None:
    """Per-source masks, matched anywhere (as Drain's and Loghub's regexes are), or None."""
    if not masks:
        return None
    try:
        return re.compile("|".join(f"(?:{m.pattern})" for m in masks))
    except re.error as error:
        raise AIOpsError(f"invalid extra mask: {error}", field="extra_masks") from error


def mask_from_dict(data: dict[str, Any], where: str) -> Mask:
    try:
        return Mask(
            name=str(data["name"]),
            pattern=str(data["pattern"]),
            why=str(data.get("why", "")),
            matches=tuple(str(v) for v in data.get("matches", ())),
            ignores=tuple(str(v) for v in data.get("ignores", ())),
        )
    except (KeyError, TypeError) as error:
        raise AIOpsError(f"a mask needs 'name' and 'pattern' ({error})", field=where) from error


@lru_cache(maxsize=1)
def default_masks() -> MaskSet:
    """The masks shipped with sentier (one configuration for every source)."""
    text = resources.files("sentier.aiops.logs").joinpath("default-masks.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    masks = tuple(
        mask_from_dict(item, f"masks[{index}]") for index, item in enumerate(data["masks"])
    )
    return MaskSet(str(data["separators"]), masks)


def mask_words(pattern: re.Pattern[str], text: str) -> str:
    """``text`` with every variable word replaced by ``<*>``."""
    return pattern.sub(WILDCARD, text)
