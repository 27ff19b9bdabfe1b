"""The one upstream contract: ``send(OutboundSms) -> Deferred[Accepted | Retry | Reject]``.

SMPP upstream connectors and the modem pool adapter both implement :class:`Upstream`; the
dispatcher and the router see nothing else (ARCHITECTURE.md, "One upstream contract").

Shape, and why:

- :class:`OutboundSms` is one segment as it goes on the wire: the dispatcher has already chosen
  data_coding and split the text (per-upstream text profile), so an upstream only encodes fields.
  ``text`` is the decoded text when known, for adapters (modems in text mode, logs) that want it.
  ``extra_tlvs`` is a tuple of ``(tag, value_bytes)`` pairs passed through untouched.
- ``send()`` **never errbacks**: every failure is an outcome. An upstream reports the raw
  ``cause`` it saw (an SMPP command_status int, or a pseudo-cause string such as ``"timeout"``,
  ``"connection_lost"`` or a modem class like ``"cms_temporary"``); the dispatcher hands the
  outcome to :meth:`smsc.retry.RetryPolicy.decide_outcome`, which makes the final call with the
  attempt count and per-upstream overrides. ``Retry``/``Reject`` is the upstream's own view, used
  when it has no cause to report (e.g. "no modem idle" is a ``Retry`` with ``after``).
- Changes from the issue's sketch: ``Retry`` and ``Reject`` gained ``cause`` (so the retry table
  can tell a throttle from a timeout); ``Reject.status`` stays, and is the cause when ``cause`` is
  None. :func:`safe_send` enforces "never errbacks" for the caller, whatever the implementation.
- ``load()`` is 0..1 (window in use / window, or busy modems / modems); ``capacity()`` is how
  many more segments it can take right now (free window slots, limited by its rate tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
from dataclasses import MISSING, dataclass
from datetime import datetime
from typing import Any, Protocol, TypeAlias, TypeVar, runtime_checkable

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger()

Cause: TypeAlias = int | str
T = TypeVar("T")


_OCTET_FIELDS = ("source_ton", "source_npi", "dest_ton", "dest_npi", "data_coding", "esm_class",
                 "registered_delivery", "priority")


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """One segment to submit upstream. ``message_id`` is ours (the row id)."""

    message_id: int
    segment: int
    total_segments: int
    source_addr: str
    source_ton: int
    source_npi: int
    dest_addr: str
    dest_ton: int
    dest_npi: int
    data_coding: int
    esm_class: int
    udh: bytes
    payload: bytes
    registered_delivery: int
    priority: int
    validity_at: datetime | None
    text: str | None
    extra_tlvs: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        _check_sms(self)


def _check_sms(sms: OutboundSms) -> None:
    """Cheap checks that catch a dispatcher bug here rather than as a garbled PDU upstream."""
    if not 1 <= sms.total_segments <= 255 or not 1 <= sms.segment <= sms.total_segments:
        raise ValueError(f"segment {sms.segment} of {sms.total_segments} is not a valid position (1..255)")
    if not sms.dest_addr:
        raise ValueError("dest_addr is empty")
    if not isinstance(sms.payload, bytes) or not isinstance(sms.udh, bytes):
        raise TypeError("payload and udh must be bytes")
    # one expression for the usual case (built per segment: the loop cost ~1 µs), the
    # field-by-field loop only to name the culprit
    if not (0 <= sms.source_ton <= 0xFF and 0 <= sms.source_npi <= 0xFF and 0 <= sms.dest_ton <= 0xFF
            and 0 <= sms.dest_npi <= 0xFF and 0 <= sms.data_coding <= 0xFF and 0 <= sms.esm_class <= 0xFF
            and 0 <= sms.registered_delivery <= 0xFF and 0 <= sms.priority <= 0xFF):
        for name in _OCTET_FIELDS:
            value = getattr(sms, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name}={value!r} does not fit in one octet")
    if sms.validity_at is not None and sms.validity_at.tzinfo is None:
        raise ValueError("validity_at must be timezone-aware")


def fast_constructor(cls: type[T], check: Callable[[T], None] | None = None) -> Callable[..., T]:
    """A constructor of the frozen slots dataclass ``cls`` for the hot path: same arguments,
    same result, ``check(instance)`` in place of its __post_init__. A frozen dataclass sets each
    field through object.__setattr__ (OutboundSms, 18 fields: 1.6 µs); this builds an unfrozen
    twin with the same slots, which stores them directly, then turns it into a ``cls`` (0.5 µs).
    """
    params = dataclasses.fields(cls)
    if not getattr(cls, "__dataclass_params__").frozen or "__slots__" not in cls.__dict__ or any(
            not f.init or f.default_factory is not MISSING for f in params):
        raise TypeError(f"{cls.__name__} is not a frozen slots dataclass with plain fields")

    def become(draft: Any) -> None:
        if check is not None:
            check(draft)
        draft.__class__ = cls  # same slots in the same order: CPython allows the swap

    twin = dataclasses.make_dataclass(
        f"_{cls.__name__}Draft",
        [(f.name, f.type) if f.default is MISSING else (f.name, f.type, f.default) for f in params],
        namespace={"__post_init__": become}, slots=True, repr=False, eq=False)
    return twin


@dataclass(frozen=True, slots=True)
class Accepted:
    """The upstream took the segment; ``remote_id`` is its id, the key for receipts."""

    remote_id: str

    def __post_init__(self) -> None:
        _check_accepted(self)


def _check_accepted(accepted: Accepted) -> None:
    # The DLR map never stores an empty id (CONVENTIONS 12): an upstream that got no id must
    # say so with Retry/Reject, or synthesise one it can match receipts against.
    if not isinstance(accepted.remote_id, str) or not accepted.remote_id:
        raise ValueError(f"Accepted needs a non-empty remote_id, got {accepted.remote_id!r}")


# OutboundSms(...) and Accepted(...) for the dispatch path, which builds them per segment
new_outbound_sms = fast_constructor(OutboundSms, _check_sms)
new_accepted = fast_constructor(Accepted, _check_accepted)


@dataclass(frozen=True, slots=True)
class Retry:
    """Not sent, may be sent again: after ``after`` seconds if given, elsewhere if allowed."""

    reason: str
    after: float | None = None
    try_other_upstream: bool = False
    cause: Cause | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    """Refused for good by this upstream; ``status`` is the SMPP status to report, if any."""

    reason: str
    status: int | None = None
    try_other_upstream: bool = False
    cause: Cause | None = None

    @property
    def effective_cause(self) -> Cause | None:
        return self.cause if self.cause is not None else self.status


Outcome: TypeAlias = Accepted | Retry | Reject
OUTCOME_TYPES = (Accepted, Retry, Reject)


@runtime_checkable
class Upstream(Protocol):
    """What the dispatcher and router need from an upstream (also an ``IService``)."""

    name: str

    def send(self, sms: OutboundSms) -> defer.Deferred:
        """Submit one segment. Fires with Accepted | Retry | Reject; never errbacks."""

    def is_usable(self) -> bool:
        """True when it can take traffic now (bound / a modem ready)."""

    def load(self) -> float:
        """0.0 (idle) .. 1.0 (full), e.g. window in use / window."""

    def capacity(self) -> int:
        """How many more segments it can take right now."""

    def startService(self) -> None: ...

    def stopService(self) -> defer.Deferred | None: ...


def safe_send(upstream: Upstream, sms: OutboundSms) -> defer.Deferred:
    """Call ``upstream.send`` and guarantee an Outcome: a raise, an errback, a cancellation or a
    wrong result type becomes a ``Retry`` (outcome unknown, may go elsewhere), logged once."""
    try:
        d = upstream.send(sms)
    except Exception:
        return defer.succeed(_internal(Failure(), upstream, sms))
    if not isinstance(d, defer.Deferred):
        return defer.succeed(_checked(d, upstream))
    # module-level callbacks with arguments, not two closures per segment (it is per message)
    return d.addCallbacks(_checked, _internal, callbackArgs=(upstream,), errbackArgs=(upstream, sms))


def safe_send_notify(upstream: Any, sms: OutboundSms, notify: Callable[[Any, Any], None], arg: Any) -> None:
    """``safe_send`` as a callback: ``notify(outcome, arg)`` is called exactly once with an
    Outcome, whatever the upstream does (a raise, an errback or a wrong result type becomes a
    ``Retry``, as in safe_send). Upstreams offering ``send_notify`` (which calls its notify, or
    returns a Deferred when the segment has to wait) are sent to without a Deferred."""
    if not hasattr(upstream, "send_notify"):
        safe_send(upstream, sms).addCallback(notify, arg)
        return
    guard = _Once(upstream, sms, notify, arg)
    try:
        waiting = upstream.send_notify(sms, guard, None)
    except Exception:
        guard.fail(Failure())
        return
    if waiting is not None:
        waiting.addCallbacks(guard, guard.fail)


class _Once:
    """The notify safe_send_notify hands the upstream: checks the outcome, ignores a second call."""

    __slots__ = ("upstream", "sms", "notify", "arg")

    def __init__(self, upstream: Any, sms: OutboundSms, notify: Callable[[Any, Any], None], arg: Any) -> None:
        self.upstream, self.sms, self.notify, self.arg = upstream, sms, notify, arg

    def __call__(self, outcome: object, _: Any = None) -> None:
        notify = self.notify
        if notify is None:
            log.error("upstream {upstream} reported message {message_id} twice: ignored",
                      upstream=_name_of(self.upstream), message_id=self.sms.message_id)
            return
        self.notify = None
        notify(_checked(outcome, self.upstream), self.arg)

    def fail(self, failure: Failure) -> None:
        if self.notify is not None:
            self(_internal(failure, self.upstream, self.sms))


def _name_of(upstream: Upstream) -> str:
    return getattr(upstream, "name", repr(upstream))


def _internal(failure: Failure, upstream: Upstream, sms: OutboundSms) -> Retry:
    name = _name_of(upstream)
    if failure.check(defer.CancelledError):
        return Retry(f"send to {name} cancelled", try_other_upstream=True, cause="cancelled")
    log.failure("upstream {upstream} failed send() for message {message_id}",
                failure, upstream=name, message_id=sms.message_id)
    return Retry(f"internal error in upstream {name}: {failure.getErrorMessage()}",
                 try_other_upstream=True, cause="internal_error")


def _checked(result: object, upstream: Upstream) -> object:
    if isinstance(result, OUTCOME_TYPES):
        return result
    name = _name_of(upstream)
    log.error("upstream {upstream} returned {result!r} instead of an outcome",
              upstream=name, result=result)
    return Retry(f"upstream {name} returned {type(result).__name__}, not an outcome",
                 try_other_upstream=True, cause="internal_error")


HealthFn: TypeAlias = Callable[[str], tuple[bool, float] | None]


def health_of(upstreams: Mapping[str, Upstream]) -> HealthFn:
    """The router's ``upstream_health`` callable over live upstreams: name -> (usable, load), or
    None for a name that is not configured (the router reports it as unknown)."""
    return _Health(upstreams)


class _Health:
    """health_of's callable; ``usable(name)`` is the half a router needs for strategies that
    never read the load (weighted, failover): it is asked per message and per upstream."""

    __slots__ = ("_upstreams",)

    def __init__(self, upstreams: Mapping[str, Upstream]) -> None:
        self._upstreams = upstreams

    def __call__(self, name: str) -> tuple[bool, float] | None:
        upstream = self._upstreams.get(name)
        if upstream is None:
            return None
        return upstream.is_usable(), upstream.load()

    def usable(self, name: str) -> bool | None:
        upstream = self._upstreams.get(name)
        return None if upstream is None else upstream.is_usable()
