"""What sentier may delete from the disk: only what it created, inside one area of SENTIER_HOME.

A path built from stored or user-given text (a source's name, a target read from the
database) can lead anywhere: ``Path(home) / "pushed" / "/srv/repo"`` *is* ``/srv/repo``. So
every removal of a tree sentier wrote goes through :func:`remove_tree`, which refuses anything
that is not strictly below ``SENTIER_HOME/<area>`` once symbolic links are resolved, and never
follows a link out: a link is removed, not what it points at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath


class OutsideHome(ValueError):
    """A removal refused: the path is not below the area of SENTIER_HOME it was meant for."""


def area_dir(area: str, home: Path | None = None) -> Path:
    """``SENTIER_HOME/<area>`` (``area`` a plain relative name such as ``pushed``)."""
    parts = PurePosixPath(area).parts
    if not parts or PurePosixPath(area).is_absolute() or ".." in parts or "." in parts:
        raise OutsideHome(f"{area!r} is not an area of SENTIER_HOME")
    if home is None:
        from sentier.config import get_settings

        home = get_settings().home
    return Path(home) / area


def is_inside(path: Path, area: str, home: Path | None = None) -> bool:
    """Is ``path`` strictly below ``SENTIER_HOME/<area>`` (its last part not followed)?"""
    top = os.path.realpath(area_dir(area, home))
    name = os.path.basename(os.path.normpath(path))  # noqa: PTH119 - no resolution wanted
    if name in ("", ".", ".."):
        return False
    real = os.path.join(os.path.realpath(os.path.dirname(os.path.normpath(path))), name)  # noqa: PTH118, PTH120
    return real.startswith(top.rstrip(os.sep) + os.sep)


def remove_tree(path: Path, *, area: str, home: Path | None = None) -> bool:
    """Remove a file or directory tree sentier created below ``SENTIER_HOME/<area>``.

    Returns whether something was removed; raises :class:`OutsideHome` (removing nothing) for
    a path elsewhere, the area itself included. A symbolic link is unlinked, never followed.
    """
    if not is_inside(path, area, home):
        raise OutsideHome(f"{path}: not below {area_dir(area, home)}; not removed")
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink(missing_ok=True)
        return True
    if not path.exists():
        return False
    shutil.rmtree(path)
    return True
