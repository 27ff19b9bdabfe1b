"""Settings of one SMPP upstream, and what it tells the engine (:class:`UpstreamEvents`).

A plain dataclass: the config layer maps a TOML ``[[upstreams]]`` section onto it, so the
checks here are the ones that protect the connector itself (values config may not catch).
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from typing import Literal

from twisted.internet.defer import Deferred

from protocols.smpp.codec import Pdu
from smsc.upstreams.smpp_submit import IdFlavour


@dataclass(frozen=True)
class SmppUpstreamSettings:
    """One [[upstreams]] entry of type smpp. Durations in seconds, throughput in msgs/s."""

    name: str
    endpoint: str                       # Twisted client endpoint: "tcp:host=...:port=..." / "tls:..."
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    address_range: str = ""
    bind_mode: Literal["transceiver", "tx_rx"] = "transceiver"
    binds: int = 1                      # transceivers, or transmitter+receiver pairs
    window: int = 10                    # per bind
    throughput: float = 0               # whole upstream; 0 = unlimited
    burst: int | None = None            # token bucket size; None = one second's worth
    response_timeout: float = 30
    enquire_link_interval: float = 30
    reconnect_initial: float = 1
    reconnect_max: float = 60
    source_override: str | None = None
    source_override_ton: int | None = None
    source_override_npi: int | None = None
    id_flavour_submit: IdFlavour = "string"
    id_flavour_receipt: IdFlavour = "string"

    def __post_init__(self) -> None:
        if self.bind_mode not in ("transceiver", "tx_rx"):
            raise ValueError(f"upstream {self.name}: bind_mode must be transceiver or tx_rx")
        if self.binds < 1 or self.window < 1:
            raise ValueError(f"upstream {self.name}: binds and window must be >= 1")
        if not (math.isfinite(self.throughput) and self.throughput >= 0):
            raise ValueError(f"upstream {self.name}: throughput must be >= 0 msgs/s")
        if self.burst is not None and self.burst < 1:
            raise ValueError(f"upstream {self.name}: burst must be >= 1")
        if not 0 < self.reconnect_initial <= self.reconnect_max:
            raise ValueError(f"upstream {self.name}: need 0 < reconnect_initial <= reconnect_max")
        for flavour in (self.id_flavour_submit, self.id_flavour_receipt):
            if flavour not in ("string", "hex", "dec"):
                raise ValueError(f"upstream {self.name}: id flavour {flavour!r} is not "
                                 "string, hex or dec")


class UpstreamEvents(typing.Protocol):
    """What the engine does with what a carrier pushes (implemented by the lead's engine)."""

    def receipt(self, upstream: str, remote_id: str, state: int, error_code: int | None
                ) -> Deferred:
        """Fires once the receipt is durable; an errback makes the carrier send it again."""

    def mo(self, upstream: str, pdu: Pdu) -> Deferred:
        """A deliver_sm/data_sm that is not a receipt; same acknowledgement rule."""

    # Optional, the hot path: ``receipt_notify(upstream, remote_id, state, error_code, notify,
    # arg)`` calls ``notify(None or Failure, arg)`` once the receipt is durable (no Deferred).

    def bound_changed(self, upstream: str) -> None:
        """A bind came up or went down: wake the dispatcher."""
