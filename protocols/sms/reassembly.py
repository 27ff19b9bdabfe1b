"""Reassembly of concatenated MO messages.

Parts arrive in any order, sometimes twice, sometimes never. A group is keyed by (key, ref,
total) where ``key`` is the caller's notion of a conversation (e.g. (source, destination,
upstream)). A complete group returns its text; an incomplete one expires after ``timeout``
seconds on the injected clock and is handed to ``on_expire`` with what arrived, so that the
caller can deliver the fragment rather than lose it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime

ExpireCallback = Callable[[Hashable, int, int, dict[int, str]], Any]


class _Group:
    __slots__ = ("parts", "call")

    def __init__(self) -> None:
        self.parts: dict[int, str] = {}
        self.call: IDelayedCall | None = None


class Reassembler:
    """Collect parts; ``add`` returns the full text once every part is in, else None."""

    def __init__(self, clock: IReactorTime, timeout: float = 300.0,
                 on_expire: ExpireCallback | None = None, max_groups: int = 10_000) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.clock = clock
        self.timeout = timeout
        self.on_expire = on_expire
        self.max_groups = max_groups
        self._groups: OrderedDict[tuple, _Group] = OrderedDict()
        self.duplicates = 0
        self.expired = 0

    def add(self, key: Hashable, ref: int, total: int, seq: int, text: str) -> str | None:
        """Add one part. A part without a usable concat (total < 2, seq outside 1..total) is a
        message of its own and comes straight back (TS 23.040 says to ignore such an IE)."""
        if total < 2 or not 1 <= seq <= total:
            return text
        gid = (key, ref, total)
        group = self._groups.get(gid)
        if group is None:
            if len(self._groups) >= self.max_groups:
                oldest = next(iter(self._groups))
                self._expire(oldest)
            group = _Group()
            group.call = self.clock.callLater(self.timeout, self._expire, gid)
            self._groups[gid] = group
        if seq in group.parts:
            self.duplicates += 1
            return None
        group.parts[seq] = text
        if len(group.parts) < total:
            return None
        del self._groups[gid]
        if group.call is not None and group.call.active():
            group.call.cancel()
        return "".join(group.parts[i] for i in range(1, total + 1))

    def _expire(self, gid: tuple) -> None:
        group = self._groups.pop(gid, None)
        if group is None:
            return
        if group.call is not None and group.call.active():
            group.call.cancel()
        self.expired += 1
        if self.on_expire is not None:
            key, ref, total = gid
            self.on_expire(key, ref, total, dict(sorted(group.parts.items())))

    def pending(self) -> int:
        """Groups still waiting for parts."""
        return len(self._groups)

    def stop(self) -> None:
        """Cancel every timer without calling back (service shutdown)."""
        for group in self._groups.values():
            if group.call is not None and group.call.active():
                group.call.cancel()
        self._groups.clear()
