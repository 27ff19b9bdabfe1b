"""The bound ESME sessions, grouped by account: bind limits, throughput buckets, who can receive.

One ``AccountBinding`` per account is shared by all its sessions, so max_binds and the
msgs/s limit hold across binds (an ESME cannot double its rate by opening a second bind).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from twisted.internet.interfaces import IReactorTime

from smsc.ratelimit import TokenBucket


class AccountBinding:
    __slots__ = ("account", "bucket", "sessions")

    def __init__(self, account: Any, clock: IReactorTime) -> None:
        self.account = account
        self.bucket: TokenBucket | None = None
        self.sessions: list[Any] = []
        self.refresh(account, clock)

    def refresh(self, account: Any, clock: IReactorTime) -> None:
        """Take the account's current limits (they may have changed with `smsc account set`)."""
        self.account = account
        rate = float(account.throughput or 0)
        if rate <= 0:
            self.bucket = None
        elif self.bucket is None:
            self.bucket = TokenBucket(rate, max(1, int(rate)), clock)
        elif self.bucket.rate != rate:
            self.bucket.set_rate(rate)

    def allow(self, n: int = 1) -> bool:
        """True when the account may submit ``n`` more messages now (its msgs/s limit)."""
        return self.bucket is None or self.bucket.try_take(n)


class EsmeRegistry:
    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._bindings: dict[str, AccountBinding] = {}

    def binding_for(self, account: Any) -> AccountBinding:
        binding = self._bindings.get(account.system_id)
        if binding is None:
            binding = self._bindings[account.system_id] = AccountBinding(account, self._clock)
        else:
            binding.refresh(account, self._clock)
        return binding

    def add(self, binding: AccountBinding, session: Any) -> None:
        binding.sessions.append(session)

    def remove(self, session: Any) -> None:
        binding = getattr(session, "principal", None)
        if isinstance(binding, AccountBinding) and session in binding.sessions:
            binding.sessions.remove(session)

    def receivers_by_id(self, account_id: int) -> list[Any]:
        for binding in self._bindings.values():
            if binding.account.id == account_id:
                return [s for s in binding.sessions if s.can_receive]
        return []

    def bindings(self) -> Iterable[AccountBinding]:
        return [b for b in self._bindings.values() if b.sessions]

    def session_counts(self) -> Counter:
        """(system_id, bind_type) -> bound sessions: the bound-sessions gauge, read at scrape time."""
        return Counter((b.account.system_id, s.bind_type) for b in self._bindings.values() for s in b.sessions)

