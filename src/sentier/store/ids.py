"""Time-ordered identifiers (UUID version 7, RFC 9562).

Random UUIDv4 keys land all over a B-tree: every insert touches a different page, and an
ingestion of 100,000 entities (plus their relations, search rows and events, all indexed by
entity id) spends most of its time on index pages that fell out of the cache. UUIDv7 keys grow
with time, so inserts append; they are still unique, opaque UUIDs, as Backstage's uids are.
(Python's ``uuid.uuid7`` arrives in 3.14.)
"""

from __future__ import annotations

import os
import random
import threading
import time

_lock = threading.Lock()
_state = {"ms": 0, "counter": 0}
# Uniqueness comes from the time and the counter; the tail only has to be hard to guess, so a
# generator seeded from the OS is enough (and much faster than reading the OS per id).
_random = random.Random(os.urandom(32))


def uuid7() -> str:
    """A new UUIDv7 string, increasing within this process (12-bit counter per millisecond)."""
    with _lock:
        now = time.time_ns() // 1_000_000
        if now > _state["ms"]:
            _state["ms"], _state["counter"] = now, 0
        else:
            _state["counter"] += 1
            if _state["counter"] > 0xFFF:  # over 4,096 ids in one millisecond: use the next
                _state["ms"], _state["counter"] = _state["ms"] + 1, 0
        ms, counter = _state["ms"], _state["counter"]
        tail = _random.getrandbits(62)
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | tail
    text = f"{value:032x}"  # formatted by hand: building a uuid.UUID costs more than the id
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
