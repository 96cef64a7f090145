"""The one directory a catalog source may read from: its root.

Descriptors name other files (``$text``/``$json``/``$yaml`` placeholders, Location targets).
Whoever writes a descriptor (a team pushing through the API, anyone committing to a registered
repository) must not make the server read files elsewhere: ``/etc/passwd``, the instance's
secret key under ``SENTIER_HOME``, another team's tree. So a target is relative, stays inside
the root once ``..`` is applied (checked before any glob walks the disk) and once symlinks are
resolved (checked on what is actually read).
"""

from __future__ import annotations

import os
from pathlib import Path


class OutsideRoot(ValueError):
    """A target that is absolute or leads out of the source's root; the message says which."""


def root_of(path: Path) -> Path:
    """The boundary of a source root as given: the directory itself, or a file's directory."""
    real = Path(os.path.realpath(path))
    return real if real.is_dir() else real.parent


def is_within(path: str | Path, root: str | Path) -> bool:
    """Is ``path`` (after resolving symlinks) ``root`` or below it?"""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def join_inside(base_dir: Path, target: str, root: Path) -> str:
    """``target`` joined to ``base_dir`` and normalised (not resolved: it may be a glob), or
    :class:`OutsideRoot` when it is absolute or its ``..`` climb out of ``root``."""
    if Path(target).is_absolute():
        raise OutsideRoot(
            f"{target} is an absolute path: give it relative to the descriptor, "
            "inside the source's root"
        )
    joined = os.path.normpath(os.path.join(os.path.realpath(base_dir), target))  # noqa: PTH118
    top = os.path.realpath(root)
    if not (joined == top or joined.startswith(top.rstrip(os.sep) + os.sep)):
        raise OutsideRoot(f"{target} is outside the source's root ({top})")
    return joined


def resolve_inside(base_dir: Path, target: str, root: Path) -> Path:
    """The real path of ``target`` when it is inside ``root``, symlinks included; else
    :class:`OutsideRoot`."""
    joined = join_inside(base_dir, target, root)
    if not is_within(joined, root):
        raise OutsideRoot(
            f"{target} is outside the source's root ({os.path.realpath(root)}) "
            "through a symbolic link"
        )
    return Path(os.path.realpath(joined))
