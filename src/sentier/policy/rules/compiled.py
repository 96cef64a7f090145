"""Built-in rule packs read through the package's data cache (``sentier.datacache``).

A pack's rule files are parsed once per content; later scans load them as JSON. Rule tests
(the code samples, most of the bytes) are left out: scans do not need them and
``Rule.tests`` reads them from the rule file when asked.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

ELIDED_TESTS = "__tests_elided__"


def _without_tests(data: Any) -> Any:
    if isinstance(data, dict) and "tests" in data:
        return {**{k: v for k, v in data.items() if k != "tests"}, ELIDED_TESTS: True}
    return data


def pack_data(
    packs_dir: Path, pack: str, files: list[str], parse: Callable[[str], Any]
) -> list[tuple[str, Any]]:
    """``(path, data)`` of every rule file of a pack; ``parse`` reads one file on a miss
    (and raises the domain error, naming file and line, on a bad one)."""
    from sentier.datacache import cached

    directory = packs_dir / pack
    rel = [os.path.relpath(p, directory) for p in files]

    def build() -> dict[str, Any]:
        return {r: _without_tests(parse(p)) for r, p in zip(rel, files, strict=True)}

    data = cached(f"pack-{pack}", packs_dir, [Path(p) for p in files], build)
    return [(path, data[r]) for path, r in zip(files, rel, strict=True)]
