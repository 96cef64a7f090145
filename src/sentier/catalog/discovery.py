"""Which files a catalog source is made of: walked directories plus followed Location targets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

DESCRIPTOR_NAMES = ("catalog-info.yaml", "catalog-info.yml")
DESCRIPTOR_SUFFIXES = (".catalog.yaml", ".catalog.yml")
SKIPPED_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".terraform"})


def is_descriptor_name(name: str) -> bool:
    return name in DESCRIPTOR_NAMES or name.endswith(DESCRIPTOR_SUFFIXES)


def walk_descriptors(root: Path, unreadable: list[OSError] | None = None) -> Iterator[Path]:
    """Descriptor files under ``root`` in a stable order (a file given directly is yielded).

    Directories that cannot be listed (the root included) are appended to ``unreadable``: the
    ingestion must not take their files for removed.
    """
    if root.is_file():
        yield root.resolve()
        return
    # Resolve the root once and join names below it: resolving every file costs syscalls that
    # dominate a no-change re-ingestion of ten thousand files.
    top = os.path.realpath(root)
    onerror = unreadable.append if unreadable is not None else None
    for directory, subdirs, files in os.walk(top, onerror=onerror):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            if is_descriptor_name(name):
                yield Path(os.path.join(directory, name))  # noqa: PTH118 - hot loop
