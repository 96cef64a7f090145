"""Pushed sources: descriptor files sent through the API, kept under ``SENTIER_HOME/pushed``.

Each pushed source lives in a directory named by a generated id (``pushed/<32 hex>``), never
by anything a user typed: a source's name is only a label. Sources pushed before this layout
keep their ``pushed/<name>`` directory (names were always plain identifiers), found as every
directory is, from the source's stored file paths.

A push is bounded before anything is parsed: file names (relative, no ``..``, no control
character, no lone surrogate, no two files where one is the other's directory), file count,
bytes per file and per push, nesting depth (a cheap pre-scan, see ``descriptors``) and the time
spent reading. Each file is parsed once, and an entity defined twice in one push is refused:
what the caller's rights are checked on is exactly what the ingestion will store.

Files are written to a staging directory, then swapped in place of the source's directory.
Staging directories and the directories set aside during a swap carry their process's token
(:mod:`sentier.liveness`), so that a server starting after a ``kill -9`` removes (or puts
back) what a dead process left, and nothing a live one is still using.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sentier import liveness
from sentier.catalog.descriptors import TOO_DEEP, locate_in_file
from sentier.catalog.problems import CatalogError, Problem
from sentier.catalog.reader import ParsedEntity, ParsedFile, read_descriptor
from sentier.home import area_dir, remove_tree

AREA = "pushed"
STAGING_PREFIX = ".staging-"
ASIDE_PREFIX = ".old-"

# A push is a set of descriptors, not a bulk upload. In Backstage's own example catalog the
# largest descriptor (an API with its GraphQL definition inline) is 40 KB and most are under
# 2 KB. The YAML parser holds the interpreter for a whole document (0.3 s for 512 KiB of the
# costliest shape, flow collections 60 deep): 512 KiB per file is twelve times the largest
# example and bounds that pause; 2,000 files and 4 MiB in all hold a few thousand entities.
# A larger catalog is a registered path, or several pushed sources. Once nesting is bounded,
# reading is linear, so the time budget is a backstop.
MAX_FILES = 2000
MAX_FILE_BYTES = 512 * 1024
MAX_PUSH_BYTES = 4 * 1024 * 1024
# JSON escaping of the files' text (\n, \", \uXXXX) on top of it, plus the names.
MAX_BODY_BYTES = 2 * MAX_PUSH_BYTES + 256 * 1024
MAX_NAME_BYTES = 1024
MAX_PART_BYTES = 255  # one path component: what Linux file systems take
MAX_PARTS = 32
READ_BUDGET_SECONDS = 10.0
DESCRIPTOR_SUFFIXES = (".yaml", ".yml")


class PushRefused(CatalogError):
    """A push refused as a whole; ``problem.code`` says why (``bad-file-name``, ``too-large``,
    ``too-deep``, ``duplicate``, ``too-slow``, ``empty-push``)."""


def _refuse(
    code: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    field: str | None = None,
) -> PushRefused:
    return PushRefused(Problem("error", message, file=file, line=line, field=field, code=code))


def shown(name: str, limit: int = 120) -> str:
    """A file name as it can be printed and sent back as JSON: lone surrogates and control
    characters escaped, long names cut."""
    text = name.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "…"


def _field(name: str) -> str:
    return f'files["{shown(name)}"]'


def _file_name(name: str) -> PurePosixPath:
    where = _field(name)
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse(
            "bad-file-name", "file name is not valid Unicode (a lone surrogate)", field=where
        ) from None
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise _refuse(
            "bad-file-name",
            "file names may not contain control characters (NUL, newline, ...)",
            field=where,
        )
    if len(encoded) > MAX_NAME_BYTES:
        raise _refuse("bad-file-name", f"file name longer than {MAX_NAME_BYTES} bytes", field=where)
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise _refuse("bad-file-name", "file names must be relative, without '..'", field=where)
    if len(relative.parts) > MAX_PARTS:
        raise _refuse(
            "bad-file-name", f"file name deeper than {MAX_PARTS} directories", field=where
        )
    if any(len(part.encode("utf-8")) > MAX_PART_BYTES for part in relative.parts):
        raise _refuse(
            "bad-file-name",
            f"a part of the file name is longer than {MAX_PART_BYTES} bytes",
            field=where,
        )
    if not relative.name.endswith(DESCRIPTOR_SUFFIXES):
        raise _refuse(
            "bad-file-name", "only .yaml/.yml descriptor files can be pushed", field=where
        )
    return relative


def check_files(files: Mapping[str, str]) -> dict[PurePosixPath, bytes]:
    """The pushed files as relative paths and UTF-8 bytes, or :class:`PushRefused`."""
    if not files:
        raise _refuse("empty-push", "at least one descriptor is needed", field="files")
    if len(files) > MAX_FILES:
        raise _refuse("too-large", f"at most {MAX_FILES} files per push", field="files")
    checked: dict[PurePosixPath, bytes] = {}
    original: dict[PurePosixPath, str] = {}
    total = 0
    for name, text in files.items():
        relative = _file_name(name)
        if relative in checked:
            raise _refuse(
                "bad-file-name",
                f'names the same file as "{shown(original[relative])}"',
                field=_field(name),
            )
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise _refuse(
                "bad-file-name",
                f"not valid Unicode text (a lone surrogate at character {error.start})",
                file=str(relative),
            ) from None
        if len(data) > MAX_FILE_BYTES:
            raise _refuse(
                "too-large",
                f"{len(data):,} bytes; a pushed descriptor may have {MAX_FILE_BYTES:,}",
                file=str(relative),
            )
        total += len(data)
        if total > MAX_PUSH_BYTES:
            raise _refuse(
                "too-large",
                f"a push may carry {MAX_PUSH_BYTES // 2**20} MiB of descriptors in all",
                field="files",
            )
        checked[relative] = data
        original[relative] = name
    directories = {parent for relative in checked for parent in relative.parents}
    for relative in checked:
        if relative in directories:
            inner = next(r for r in checked if relative in r.parents)
            raise _refuse(
                "bad-file-name",
                f'is both a file and the directory of "{shown(str(inner))}"',
                field=_field(original[relative]),
            )
    return checked


@dataclass
class PushRead:
    """Every pushed file parsed once: what the caller's rights are checked on."""

    files: list[ParsedFile] = field(default_factory=list)

    @property
    def entities(self) -> list[ParsedEntity]:
        return [entity for parsed in self.files for entity in parsed.entities]

    @property
    def problems(self) -> list[Problem]:
        return [problem for parsed in self.files for problem in parsed.problems]


def read_files(
    staging: Path,
    files: Mapping[PurePosixPath, bytes],
    *,
    deadline: float | None = None,
) -> PushRead:
    """Write the files below ``staging`` and parse each once, inside ``staging`` as root.

    Refused as a whole (:class:`PushRefused`, located by the pushed name and line): nesting
    beyond the parser's bound, an entity defined twice, reading past ``deadline``
    (``time.monotonic()``).
    """
    for relative, data in files.items():
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    read = PushRead()
    first: dict[str, str] = {}
    for relative in sorted(files):
        if deadline is not None and time.monotonic() > deadline:
            raise _refuse(
                "too-slow",
                f"reading the push took longer than its budget; stopped before {relative}",
                file=str(relative),
            )
        path = staging / relative
        parsed = read_descriptor(path, files[relative], root=staging)
        deep = next((p for p in parsed.problems if p.code == TOO_DEEP), None)
        if deep is not None:
            raise _refuse(TOO_DEEP, deep.message, file=str(relative), line=deep.line)
        for entity in parsed.entities:
            here = f"{relative}:{entity.line}"
            if entity.key in first:
                raise _refuse(
                    "duplicate",
                    f"duplicate entity {entity.key} in this push, first defined at "
                    f"{first[entity.key]}",
                    file=str(relative),
                    line=locate_in_file(str(path), entity.line, "metadata.name"),
                    field="metadata.name",
                )
            first[entity.key] = here
        read.files.append(parsed)
    return read


# -- where pushed sources live ---------------------------------------------------------------


def root() -> Path:
    """``SENTIER_HOME/pushed``, absolute (stored file paths stay valid whatever the cwd)."""
    return area_dir(AREA).absolute()


def new_directory() -> Path:
    """The directory of a source pushed for the first time: a generated id."""
    return root() / uuid.uuid4().hex


def source_directory(source_type: str, target: str) -> Path | None:
    """The directory holding a pushed source's files, from its stored roots; None for other
    sources, or when the roots are not all inside one directory of ``SENTIER_HOME/pushed``
    (nothing is then ever removed for it)."""
    if source_type != "push":
        return None
    top = os.path.abspath(root())  # noqa: PTH100 - lexical, like the stored paths
    roots = [os.path.abspath(line) for line in target.split("\n") if line]  # noqa: PTH100
    if not roots:
        return None
    relative = PurePosixPath(os.path.relpath(roots[0], top))
    if relative.is_absolute() or not relative.parts or relative.parts[0] in ("..", "."):
        return None
    if relative.parts[0].startswith("."):
        return None  # a staging or set-aside directory, never a source's own
    directory = os.path.join(top, relative.parts[0])  # noqa: PTH118
    if not all(r.startswith(directory + os.sep) for r in roots):
        return None
    return Path(directory)


def roots_in(directory: Path, files: Sequence[PurePosixPath]) -> str:
    """A pushed source's stored target: every pushed file is a root, whatever its name (a
    directory walk would only see ``catalog-info.yaml`` and ``*.catalog.yaml``)."""
    return "\n".join(str(directory / relative) for relative in sorted(files))


@contextlib.contextmanager
def staging() -> Iterator[Path]:
    """A fresh staging directory, removed on leaving unless it was installed meanwhile."""
    top = root()
    top.mkdir(parents=True, exist_ok=True)
    path = top / f"{STAGING_PREFIX}{liveness.current()}-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    try:
        yield path
    finally:
        if path.exists():
            remove_tree(path, area=AREA)


@contextlib.contextmanager
def lock() -> Iterator[None]:
    """One push at a time swaps directories and records sources (threads and processes)."""
    top = root()
    top.mkdir(parents=True, exist_ok=True)
    with (top / ".lock").open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def installed(staging_dir: Path, directory: Path) -> Iterator[None]:
    """Put the staged files in place of ``directory`` for the block (the database commit);
    if the block raises, the previous files are put back."""
    aside = directory.with_name(
        f"{ASIDE_PREFIX}{liveness.current()}-{uuid.uuid4().hex[:12]}.{directory.name}"
    )
    had = directory.exists()
    if had:
        directory.rename(aside)
    staging_dir.rename(directory)
    try:
        yield
    except BaseException:
        remove_tree(directory, area=AREA)
        if had:
            aside.rename(directory)
        raise
    if had:
        remove_tree(aside, area=AREA)


def discard(directory: Path | None) -> bool:
    """Remove a pushed source's directory once the source is gone (only ever below
    ``SENTIER_HOME/pushed``: see :func:`sentier.home.remove_tree`)."""
    if directory is None:
        return False
    return remove_tree(directory, area=AREA)


def _owner(name: str, prefix: str) -> str:
    """The process token in a staging or set-aside directory's name (host-pid-ticks)."""
    rest = name[len(prefix) :].split(".", 1)[0]
    return rest.rsplit("-", 1)[0]


def remove_abandoned() -> list[Path]:
    """What dead processes left in ``SENTIER_HOME/pushed``: their staging directories go;
    a directory they set aside during a swap goes back in place if the swap did not finish,
    else goes too. Returns the paths handled."""
    top = root()
    if not top.is_dir():
        return []
    handled: list[Path] = []
    for entry in sorted(top.iterdir()):
        if entry.name.startswith(STAGING_PREFIX):
            if liveness.is_dead(_owner(entry.name, STAGING_PREFIX)):
                remove_tree(entry, area=AREA)
                handled.append(entry)
        elif entry.name.startswith(ASIDE_PREFIX) and "." in entry.name[len(ASIDE_PREFIX) :]:
            if not liveness.is_dead(_owner(entry.name, ASIDE_PREFIX)):
                continue
            original = top / entry.name[len(ASIDE_PREFIX) :].split(".", 1)[1]
            if original.name and not original.name.startswith(".") and not original.exists():
                entry.rename(original)
            else:
                remove_tree(entry, area=AREA)
            handled.append(entry)
    return handled
