"""Bounds on evaluating Terraform: every value, and each root module's depth, time and memory.

A scanner evaluates code it does not trust (a pull request, a pushed repository). HCL is
small but its functions are not: ``range()``, ``setproduct()``, a format width, a string
joined or repeated through a few locals can ask for gigabytes or hours from one line.
Terraform bounds ``range()`` at 1,024 values and little else, and runs in its user's own
terminal; a server cannot. So:

- every value is bounded: ``MAX_TEXT`` characters, ``MAX_ITEMS`` members, ``MAX_WIDTH`` for a
  format width or an indent, integers of ``MAX_INT_BITS``. A function that would produce more
  fails as a Terraform function fails (``ValueTooLarge``, an ``EvalError``: ``try()`` and
  ``can()`` see it), before it allocates; the expression is then unknown, and the scan reports
  the file and line;
- one root module (its files and every module it calls) is evaluated within a ``Budget``:
  ``TIME_BUDGET`` seconds, ``MEMORY_BUDGET`` bytes of values created, and expressions nested at
  most ``MAX_DEPTH`` deep. Past any of these ``BudgetExceeded`` stops that module, reported
  at the file and line being evaluated, and the scan goes on with the next module or file.

Memory is counted, not measured: each value is charged its size when it is made (a string
its characters, a collection a word per member; a member shared by reference costs nothing
more, as in memory), and walks over values (encoding them to JSON, comparing them, recording
their locations) are charged per member visited, so that a structure sharing members a
thousand times over is paid for before it is encoded. Counting is deterministic and cheap.
The clock is read every 1,024 steps: a step is an attribute or local evaluated, a function
called, an iteration of a ``for``, a member walked; nesting is checked at every expression.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

MAX_TEXT = 4 * 1024 * 1024  # characters in one string
MAX_ITEMS = 100_000  # members of one list, set or map
MAX_RANGE = 1024  # Terraform's own limit on range()
MAX_WIDTH = 1024  # format("%0Nd"), format("%.Nf"), indent(N, ...)
MAX_INT_BITS = 1024  # Terraform numbers are 512-bit floats; nothing real comes near
MAX_DECODE = 1024 * 1024  # characters jsondecode()/yamldecode() parse, as file() reads
MAX_DEPTH = 96  # expressions evaluated within one another (through locals and modules too)
TIME_BUDGET = 20.0  # seconds for one root module
MEMORY_BUDGET = 256 * 1024 * 1024  # bytes of values created for one root module
WORD = 8  # what one member of a collection is charged
CLOCK_EVERY = 1023  # read the clock when steps & CLOCK_EVERY == 0


class BudgetExceeded(Exception):
    """One root module ran out of time, memory or depth; located where it happened."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.file: str | None = None
        self.line = 0

    def locate(self, file: str, line: int) -> None:
        """The innermost expression being evaluated names the place (set once)."""
        if self.file is None:
            self.file, self.line = file, line


class Budget:
    """What is left to one root module's evaluation."""

    __slots__ = ("deadline", "depth", "limit", "memory", "seconds", "steps")

    def __init__(self, *, seconds: float | None = None, memory: int | None = None) -> None:
        self.seconds = TIME_BUDGET if seconds is None else seconds
        self.deadline = time.monotonic() + self.seconds
        self.limit = self.memory = MEMORY_BUDGET if memory is None else memory
        self.depth = 0
        self.steps = 0

    def step(self) -> None:
        """One unit of work (a member visited); reads the clock now and then."""
        self.steps += 1
        if not self.steps & CLOCK_EVERY:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Raise when past the depth or the time (``Evaluator.ev`` counts steps inline)."""
        if self.depth > MAX_DEPTH:
            raise BudgetExceeded(
                f"expressions nested more than {MAX_DEPTH} deep (through locals, variables "
                "and module outputs too); this module was not scanned"
            )
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(
                f"evaluation took longer than {self.seconds:g} s; this module was not scanned"
            )

    def claim(self, size: int) -> None:
        """``size`` bytes of new values."""
        self.memory -= size
        if self.memory < 0:
            raise BudgetExceeded(
                f"evaluation created more than {self.limit / (1024 * 1024):g} MiB of values; "
                "this module was not scanned"
            )


_CURRENT: ContextVar[Budget | None] = ContextVar("sentier_hcl_budget", default=None)


def current() -> Budget:
    """The budget of the module being evaluated; outside ``evaluating``, a fresh one (each
    caller then has a whole budget of its own, never one worn down by earlier calls)."""
    return _CURRENT.get() or Budget()


@contextmanager
def evaluating(*, seconds: float | None = None, memory: int | None = None) -> Iterator[Budget]:
    """A fresh budget for the evaluation of one root module."""
    budget = Budget(seconds=seconds, memory=memory)
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)
