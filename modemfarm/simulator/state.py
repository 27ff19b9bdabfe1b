"""What one simulated modem remembers: settings, SIM, radio, message memories, TP-MR counter.

SM, ME and SR are separate stores on purpose: a simulator that aliased SM and ME made gammu read
every message twice (reference notes, practical check), so the acceptance tests need them apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: 27.005 <stat> values in PDU mode.
REC_UNREAD, REC_READ, STO_UNSENT, STO_SENT = 0, 1, 2, 3

SIM_READY, SIM_PIN, SIM_PUK, SIM_ABSENT = "READY", "SIM PIN", "SIM PUK", "ABSENT"


@dataclass
class Stored:
    """One message slot: 27.005 stat and the PDU (SCA prefix + TPDU, hex)."""

    stat: int
    pdu: str


class Storage:
    """A message memory (SM, ME or SR) with a capacity; indexes start at 1."""

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self.slots: dict[int, Stored] = {}

    @property
    def used(self) -> int:
        return len(self.slots)

    @property
    def full(self) -> bool:
        return len(self.slots) >= self.capacity

    def store(self, pdu: str, stat: int = REC_UNREAD) -> int | None:
        """Store a PDU in the lowest free index, or return None when the memory is full."""
        for index in range(1, self.capacity + 1):
            if index not in self.slots:
                self.slots[index] = Stored(stat, pdu)
                return index
        return None

    def read(self, index: int) -> Stored | None:
        return self.slots.get(index)

    def delete(self, index: int) -> bool:
        return self.slots.pop(index, None) is not None

    def listing(self, stat: int) -> list[tuple[int, Stored]]:
        """Messages with ``stat`` (4 = all), in index order."""
        return [(i, s) for i, s in sorted(self.slots.items()) if stat == 4 or s.stat == stat]


def luhn_complete(body: str) -> str:
    """``body`` plus its Luhn check digit (IMEI, ICCID)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        digit = int(ch)
        if i % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return body + str((10 - total % 10) % 10)


@dataclass
class Identity:
    """Hardware and SIM identity: what the driver must key the modem on (never the path)."""

    imei: str
    imsi: str
    iccid: str
    msisdn: str
    manufacturer: str = "SIMULATED"
    model: str = "SIM-MODEM-1"
    revision: str = "1.0.0-smsc"

    @classmethod
    def generate(cls, rng: random.Random, index: int) -> Identity:
        """A deterministic identity: IMEI TAC 35..., test network IMSI 00101, ICCID 8900101."""
        serial = f"{index:04d}{rng.randrange(10**8):08d}"
        return cls(
            imei=luhn_complete("35" + serial),
            imsi="00101" + f"{index:04d}{rng.randrange(10**6):06d}",
            iccid=luhn_complete("8900101" + f"{index:04d}{rng.randrange(10**7):07d}"),
            msisdn="+1555" + f"{index % 1000:03d}{rng.randrange(10**4):04d}",
        )


@dataclass
class SimCard:
    """SIM presence, lock and the 'busy after boot/PIN' window (CME 14)."""

    state: str = SIM_READY
    pin: str = "1234"
    puk: str = "12345678"
    busy_until: float = 0.0
    pin_attempts: int = 3


@dataclass
class ModemState:
    """Settings a driver changes with AT commands, plus radio and storage."""

    identity: Identity
    sim: SimCard = field(default_factory=SimCard)
    echo: bool = True
    verbose: bool = True
    cmee: int = 0
    cmgf: int = 0
    cscs: str = "IRA"
    csms: int = 0
    cmms: int = 0
    cnmi: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])
    cpms: list[str] = field(default_factory=lambda: ["SM", "SM", "SM"])
    csca: str | None = "+15550000000"
    cfun: int = 1
    creg_n: int = 0
    cereg_n: int = 0
    creg_stat: int = 1
    rssi: int = 20
    ber: int = 99
    operator: str = "SIMNET"
    sr_memory: str = "SR"
    next_mr: int = 0
    memories: dict[str, Storage] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.memories:
            self.memories = {"SM": Storage("SM", 30), "ME": Storage("ME", 100),
                             "SR": Storage("SR", 30)}

    def take_mr(self) -> int:
        """The TP-MR the network assigns to the next submit: 0..255, then wraps."""
        mr = self.next_mr
        self.next_mr = (self.next_mr + 1) % 256
        return mr

    @property
    def registered(self) -> bool:
        return self.cfun == 1 and self.creg_stat in (1, 5) and self.sim.state == SIM_READY

    def power_on_defaults(self) -> None:
        """What a reboot resets: echo on, CMEE 0, CNMI 0, text settings; storage and SIM persist."""
        self.echo, self.verbose, self.cmee, self.cmgf, self.cscs = True, True, 0, 0, "IRA"
        self.csms, self.cmms, self.cfun, self.creg_n, self.cereg_n = 0, 0, 1, 0, 0
        self.cnmi = [0, 0, 0, 0, 0]
        self.cpms = ["SM", "SM", "SM"]
