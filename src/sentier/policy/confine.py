"""Scans that may read only inside given directories (scans requested by editors over the API).

A scanned tree is written by whoever commits to it: a symlink ``main.tf -> /etc/shadow`` or
``file("/srv/sentier/secret_key")`` would otherwise copy a server file into a parse error or an
attribute, and from there into findings every viewer reads. Inside :func:`confined`, every file
the loaders and the HCL evaluator open must resolve (symlinks included) inside the roots; one
that does not is not read (a problem for a file, an unknown value for ``file()``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

_ROOTS: ContextVar[tuple[str, ...] | None] = ContextVar("sentier_policy_read_roots", default=None)
OUTSIDE = "not read: outside the locations this scan may read"


@contextmanager
def confined(roots: Sequence[str]) -> Iterator[None]:
    """Within the block, files are read only inside ``roots`` (directories)."""
    token = _ROOTS.set(tuple(os.path.realpath(root) for root in roots))
    try:
        yield
    finally:
        _ROOTS.reset(token)


def may_read(path: str) -> bool:
    """True outside :func:`confined`; inside, when ``path`` resolves inside one of its roots."""
    roots = _ROOTS.get()
    if roots is None:
        return True
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)
