"""Data files shipped in the package (rule packs, the region registry), read once.

Constructing YAML documents in PyYAML costs more than scanning a small repository, and every
``sentier scan`` (a pre-commit hook, a CI step) would pay it again. What a set of data files
parses into is written on first use as JSON beside them (``__pycache__``, ignored like
bytecode) or, when that is read-only, under ``SENTIER_HOME/cache``, and read back several
times faster. The key is a hash of every file's path and bytes: an edited, added or removed
file is a miss, so the cache can be unused but never stale.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CACHE_VERSION = "1"


def content_key(base: Path, sources: Sequence[Path]) -> str:
    digest = hashlib.sha256(CACHE_VERSION.encode())
    for path in sources:
        digest.update(os.path.relpath(path, base).encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def _read(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            stored = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("version") != CACHE_VERSION:
        return None
    return stored.get("data")


def _write(directory: Path, name: str, data: Any) -> bool:
    import tempfile

    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=directory, prefix=".tmp-", suffix=".json", delete=False
        ) as handle:
            json.dump({"version": CACHE_VERSION, "data": data}, handle)
        written = Path(handle.name)
        written.chmod(0o644)  # readable by every user of a shared installation
        written.replace(directory / name)
    except OSError:
        return False
    return True


def _prune(directory: Path, prefix: str, keep: str) -> None:
    """Drop older entries of the same data (each edit of a file would leave one behind)."""
    try:
        for entry in directory.iterdir():
            if entry.name.startswith(prefix) and entry.suffix == ".json" and entry.name != keep:
                entry.unlink(missing_ok=True)
    except OSError:
        pass


def _home_cache() -> Path:
    from sentier.config import get_settings

    return get_settings().home / "cache"


def cached(name: str, base: Path, sources: Sequence[Path], build: Callable[[], Any]) -> Any:
    """What ``build`` makes of ``sources`` (files under ``base``), from the cache when it
    holds it for their current content. ``build`` must return JSON data; anything JSON would
    change (non-string keys, dates...) is returned uncached."""
    try:
        key = content_key(base, sources)
    except OSError:
        return build()
    entry = f"{name}-{key}.json"
    local = base / "__pycache__"
    # Beside the data first: finding it there needs no settings (and so no pydantic).
    for directory in (local, None):
        found = _read((directory or _home_cache()) / entry)
        if found is not None:
            return found
    data = build()
    if json.loads(json.dumps(data, default=str)) != data:
        return data
    for directory in (local, None):
        target = directory or _home_cache()
        if _write(target, entry, data):
            _prune(target, f"{name}-", entry)
            break
    return data
