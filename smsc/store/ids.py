"""Message ids made by the application: time-ordered 63-bit integers, unique across nodes.

Layout: milliseconds since 2024-01-01 (41 bits) | node id (10 bits) | sequence (12 bits).
Ids are known before the INSERT, so a group commit is one executemany with no RETURNING, and
several nodes sharing one PostgreSQL never collide as long as their node ids differ.
"""

from __future__ import annotations

from typing import Callable

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NODE_BITS = 10
SEQUENCE_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
_SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1


class IdGenerator:
    """Monotonic ids; borrows milliseconds from the future when more than 4096 arrive in one."""

    __slots__ = ("_now", "_node", "_last_ms", "_sequence")

    def __init__(self, node_id: int, now: Callable[[], float]) -> None:
        if not 0 <= node_id <= MAX_NODE:
            raise ValueError(f"node_id must be 0..{MAX_NODE}, got {node_id}")
        self._now = now
        self._node = node_id << SEQUENCE_BITS
        self._last_ms = 0
        self._sequence = 0

    def next(self) -> int:
        ms = int(self._now() * 1000) - EPOCH_MS
        if ms > self._last_ms:
            self._last_ms = ms
            self._sequence = 0
        else:
            self._sequence = (self._sequence + 1) & _SEQUENCE_MASK
            if self._sequence == 0:
                self._last_ms += 1
        return (self._last_ms << (NODE_BITS + SEQUENCE_BITS)) | self._node | self._sequence
