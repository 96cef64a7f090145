"""The fact store: Parquet datasets under ``SENTIER_HOME/facts``, replaced slice by slice.

Facts (cost lines, later carbon and metric points) are too many for the SQL store, so they
live in Parquet files partitioned by period. A dataset is described by one small manifest,
``_manifest.json``, naming the files of every *slice* (a period of one source, e.g. one
billing account's month). Readers only ever read the files the manifest names, so:

- replacing a slice is atomic: new files are written aside, then the manifest is swapped with
  one ``os.replace`` (a crash before that leaves the previous data intact, after it the new);
- files of an aborted or superseded write are never read, and ``vacuum`` removes them later;
- files a commit replaced are *retired*, not deleted: a reader that listed them from the
  previous manifest (a report under way, in this process or in another server sharing the
  home) may still open them. A later commit removes them once ``RETIRED_GRACE_SECONDS`` have
  passed.

Writers take an exclusive lock on the dataset while they swap the manifest, so two ingestions
of the same dataset cannot lose each other's slices.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "_manifest.json"
STAGING = "_staging"
# How long files a commit replaced stay for readers of the previous manifest: longer than any
# report takes (seconds on ten million lines).
RETIRED_GRACE_SECONDS = 600.0


class FactStoreError(Exception):
    """A fact dataset that cannot be read or written (corrupt manifest, missing file)."""


@dataclass(frozen=True)
class Slice:
    """The files of one slice of a period, per table, with what the writer wants to remember."""

    tables: dict[str, list[str]]
    rows: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"tables": self.tables, "rows": self.rows, "meta": self.meta}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Slice:
        return cls(
            {k: list(v) for k, v in data["tables"].items()},
            int(data.get("rows", 0)),
            dict(data.get("meta") or {}),
        )


@dataclass(frozen=True)
class Manifest:
    """Which files make up a dataset: period -> slice id -> files."""

    version: int
    partitions: dict[str, dict[str, Slice]]

    def periods(self) -> list[str]:
        return sorted(p for p, slices in self.partitions.items() if slices)

    def slices(self, periods: Iterable[str] | None = None) -> Iterator[tuple[str, str, Slice]]:
        wanted = set(periods) if periods is not None else None
        for period in sorted(self.partitions):
            if wanted is not None and period not in wanted:
                continue
            for slice_id, item in sorted(self.partitions[period].items()):
                yield period, slice_id, item

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "partitions": {
                period: {sid: s.as_dict() for sid, s in sorted(slices.items())}
                for period, slices in sorted(self.partitions.items())
            },
        }


class Dataset:
    """One fact dataset (e.g. ``finops``), a directory holding partitions and its manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def name(self) -> str:
        return self.root.name

    # -- reading ------------------------------------------------------------------------------

    def manifest(self) -> Manifest:
        path = self.root / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Manifest(0, {})
        except (OSError, ValueError) as error:
            raise FactStoreError(f"{path}: cannot read the manifest: {error}") from error
        try:
            partitions = {
                period: {sid: Slice.from_dict(item) for sid, item in slices.items()}
                for period, slices in data["partitions"].items()
            }
            return Manifest(int(data["version"]), partitions)
        except (KeyError, TypeError, ValueError) as error:
            raise FactStoreError(f"{path}: malformed manifest: {error}") from error

    def files(self, table: str, periods: Iterable[str] | None = None) -> list[Path]:
        """Absolute paths of the files of ``table`` in ``periods`` (all periods by default)."""
        manifest = self.manifest()
        return [
            self.root / relative
            for _, _, item in manifest.slices(periods)
            for relative in item.tables.get(table, [])
        ]

    # -- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock on the dataset's manifest, across processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "_lock").open("a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def staging(self) -> Path:
        """A fresh directory to write new files into before they are committed; its name
        carries this process's token, so a server starting after a kill -9 can tell it was
        abandoned (:meth:`remove_abandoned_staging`)."""
        from sentier import liveness

        stamp = time.strftime("%Y%m%dT%H%M%S")
        path = self.root / STAGING / f"{stamp}-{liveness.current()}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    def remove_abandoned_staging(self) -> list[Path]:
        """Remove the staging directories of processes that have ended (an ingestion killed
        midway); those of live processes, and unnamed older ones (``vacuum``'s), stay."""
        from sentier import liveness

        staging = self.root / STAGING
        if not staging.is_dir():
            return []
        removed: list[Path] = []
        for path in sorted(staging.iterdir()):
            parts = path.name.split("-")
            if len(parts) != 5 or not liveness.is_dead("-".join(parts[1:4])):
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        return removed

    def partition_dir(self, period: str) -> Path:
        return self.root / f"period={period}"

    def commit(self, replacements: Mapping[tuple[str, str], Slice | None]) -> Manifest:
        """Swap slices in one atomic manifest replacement; returns the manifest it replaced.

        Each ``Slice`` names files (relative to the dataset root, usually still in a staging
        directory): they are moved into their period's directory first, then the manifest is
        rewritten. ``None`` removes a slice. Must be called under ``lock()``.
        """
        previous = self.manifest()
        partitions = {p: dict(slices) for p, slices in previous.partitions.items()}
        for (period, slice_id), item in replacements.items():
            if item is None:
                partitions.get(period, {}).pop(slice_id, None)
                continue
            target_dir = self.partition_dir(period)
            target_dir.mkdir(parents=True, exist_ok=True)
            moved: dict[str, list[str]] = {}
            for table, relatives in item.tables.items():
                moved[table] = []
                for relative in relatives:
                    source = self.root / relative
                    target = target_dir / source.name
                    if source != target:
                        source.replace(target)
                    moved[table].append(str(target.relative_to(self.root)))
            partitions.setdefault(period, {})[slice_id] = Slice(moved, item.rows, item.meta)
        manifest = Manifest(previous.version + 1, {p: s for p, s in partitions.items() if s})
        self._write_manifest(manifest)
        self._remove_retired(manifest, RETIRED_GRACE_SECONDS)
        return previous

    def retire(self, relatives: Iterable[str]) -> None:
        """Files the manifest no longer names, to be removed once readers are done with them.

        Their modification time becomes the moment of retirement (data files are never
        written once they have landed); a commit after ``RETIRED_GRACE_SECONDS`` removes them.
        """
        now = time.time()
        for relative in relatives:
            with contextlib.suppress(FileNotFoundError):
                os.utime(self.root / relative, (now, now))

    def remove_retired(self, *, older_than_seconds: float = RETIRED_GRACE_SECONDS) -> list[Path]:
        """Remove the files of periods that the manifest does not name, retired (or written)
        at least ``older_than_seconds`` ago; returns what went."""
        with self.lock():
            return self._remove_retired(self.manifest(), older_than_seconds)

    def _remove_retired(self, manifest: Manifest, older_than_seconds: float) -> list[Path]:
        referenced = {
            relative
            for _, _, item in manifest.slices()
            for relatives in item.tables.values()
            for relative in relatives
        }
        removed: list[Path] = []
        deadline = time.time() - older_than_seconds
        for directory in sorted(self.root.glob("period=*")):
            for path in sorted(directory.iterdir()):
                if str(path.relative_to(self.root)) in referenced:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime <= deadline:
                        path.unlink()
                        removed.append(path)
        return removed

    def restore(self, manifest: Manifest) -> None:
        """Put back a manifest returned by ``commit`` (when what followed the commit failed)."""
        self._write_manifest(Manifest(manifest.version, manifest.partitions))

    def _write_manifest(self, manifest: Manifest) -> None:
        path = self.root / MANIFEST
        temporary = path.with_name(f"{MANIFEST}.{uuid.uuid4().hex[:8]}.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(manifest.as_dict(), handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        with contextlib.suppress(OSError):
            directory = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def vacuum(self, *, older_than_seconds: float = 3600.0) -> list[Path]:
        """Remove files no manifest names and stale staging directories; returns what went."""
        with self.lock():
            referenced = {
                (self.root / relative).resolve()
                for _, _, item in self.manifest().slices()
                for relatives in item.tables.values()
                for relative in relatives
            }
            removed: list[Path] = []
            now = time.time()
            for directory in sorted(self.root.glob("period=*")):
                for path in sorted(directory.iterdir()):
                    if path.resolve() not in referenced:
                        path.unlink()
                        removed.append(path)
                if not any(directory.iterdir()):
                    directory.rmdir()
            staging = self.root / STAGING
            if staging.is_dir():
                for path in sorted(staging.iterdir()):
                    if now - path.stat().st_mtime >= older_than_seconds:
                        shutil.rmtree(path, ignore_errors=True)
                        removed.append(path)
            return removed


class FactStore:
    """Every fact dataset of this sentier home."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def default(cls) -> FactStore:
        from sentier.config import get_settings

        return cls(get_settings().home / "facts")

    def dataset(self, name: str) -> Dataset:
        return Dataset(self.root / name)

    def datasets(self) -> list[Dataset]:
        """Every dataset that has a directory here."""
        if not self.root.is_dir():
            return []
        return [Dataset(path) for path in sorted(self.root.iterdir()) if path.is_dir()]

    def size_bytes(self, name: str, table: str | None = None) -> int:
        """Bytes of the files the manifest of ``name`` names (only ``table`` when given)."""
        dataset = self.dataset(name)
        total = 0
        for _, _, item in dataset.manifest().slices():
            for table_name, relatives in item.tables.items():
                if table is None or table_name == table:
                    total += sum((dataset.root / r).stat().st_size for r in relatives)
        return total
