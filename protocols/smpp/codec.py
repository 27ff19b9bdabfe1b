"""SMPP 3.4 PDU codec: bytes <-> Pdu, driven by the table in pdu_table.py.

Speed is why this exists (smpp.pdu3 decodes ~21k submit_sm/s here). At import time
each PDU's field list is turned into one straight-line Python function for decode and
one for encode (no per-field calls, one precompiled struct per run of integer fields,
``bytes.find`` for C-strings). Bounds checks that cost on every PDU are replaced by
catching the IndexError/struct.error a short body raises. The generated source is kept
in ``GENERATED_SOURCE`` for reading and debugging.

Tolerances (documented choices):
- a response with an empty body decodes with default params (peers send 16-octet
  deliver_sm_resp); bind_*_resp/submit_sm_resp with a non-zero status never need a body;
- a C-string TLV without its trailing NUL is accepted (carriers send receipted_message_id
  that way); sm_length 255 is accepted on decode, encode refuses more than 254;
- any standard TLV is accepted on any PDU (which ones are allowed is session policy);
  unknown TLVs are kept raw, in order, and encoded after the standard ones, so a PDU
  relays byte-identical when its vendor TLVs follow the standard ones (the usual layout);
  interleaved ones keep their values and their relative order.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

from protocols.smpp import pdu_table as table
from protocols.smpp.constants import (
    COMMAND_IDS,
    COMMAND_NAMES,
    HEADER_LENGTH,
    NO_RESPONSE,
    RESPONSE_BIT,
    TLV_BY_NAME,
    TLV_BY_TAG,
    Status,
    TlvKind,
    status_name,
)
from protocols.smpp.pdu_table import Field

HEADER = struct.Struct(">IIII")
_unpack_header = HEADER.unpack_from
_pack_header = HEADER.pack
_TL = struct.Struct(">HH")
_FIXED_FMT = {"int1": "B", "int2": "H", "int4": "I"}
_LEN1 = [bytes((i,)) for i in range(256)]


class PduError(Exception):
    """A PDU that cannot be decoded, with the command_status to answer it with."""

    def __init__(self, status: int, message: str, command_id: int | None = None,
                 sequence: int | None = None) -> None:
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.command_id = command_id
        self.sequence = sequence

    def __str__(self) -> str:
        return f"{status_name(self.status)}: {self.message}"


class Pdu:
    """One SMPP PDU. ``params`` holds every mandatory field of the command (missing ones
    are filled with defaults); sm_length/number_of_dests/no_unsuccess are derived."""

    __slots__ = ("command", "command_id", "status", "sequence", "params", "tlvs",
                 "unknown_tlvs")

    def __init__(self, command: str, sequence: int = 0, status: int = 0,
                 params: dict[str, Any] | None = None, tlvs: dict[str, Any] | None = None,
                 unknown_tlvs: list[tuple[int, bytes]] | None = None) -> None:
        command_id = COMMAND_IDS.get(command)
        if command_id is None:
            raise ValueError(f"unknown SMPP command {command!r}")
        defaults = _DEFAULTS[command]
        params = _with_defaults(command, defaults, params) if params else dict(defaults)
        if tlvs:
            for name in tlvs:
                if name not in TLV_BY_NAME:
                    raise ValueError(f"unknown TLV name {name!r}")
        self.command = command
        self.command_id = command_id
        self.status = status
        self.sequence = sequence
        self.params = params
        self.tlvs = dict(tlvs) if tlvs else {}
        self.unknown_tlvs = list(unknown_tlvs) if unknown_tlvs else []

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pdu):
            return NotImplemented
        return (self.command_id == other.command_id and self.status == other.status
                and self.sequence == other.sequence and self.params == other.params
                and self.tlvs == other.tlvs and self.unknown_tlvs == other.unknown_tlvs)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        extra = f", tlvs={self.tlvs!r}" if self.tlvs else ""
        if self.unknown_tlvs:
            extra += f", unknown_tlvs={self.unknown_tlvs!r}"
        status = "" if not self.status else f", status={status_name(self.status)}"
        return f"Pdu({self.command!r}, seq={self.sequence}{status}, params={self.params!r}{extra})"


# ---------------------------------------------------------------- field helpers (slow paths)

def _cstr_fail(data: bytes, pos: int, end: int, field: Field) -> None:
    """Raise the right error for a C-string with no NUL within its maximum size."""
    if data.find(b"\0", pos, end) < 0 and end - pos < field.max_len:
        raise PduError(Status.ESME_RINVCMDLEN,
                       f"body ends inside {field.name} (no NUL terminator)")
    raise PduError(field.status,
                   f"{field.name} longer than {field.max_len - 1} octets or not NUL terminated")


def _read_cstr(data: bytes, pos: int, end: int, field: Field) -> tuple[str, int]:
    z = data.find(b"\0", pos, min(pos + field.max_len, end))
    if z < 0:
        _cstr_fail(data, pos, end, field)
    return data[pos:z].decode("latin-1"), z + 1


def _sm_fail(field: Field, n: int, left: int) -> None:
    raise PduError(field.status, f"sm_length {n} runs past the body ({left} octets left)")


def _cstr_bytes(field: Field, value: Any) -> bytes:
    """Encode a C-string param value (str or bytes), checking size and NULs."""
    if isinstance(value, str):
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"{field.name}: {value!r} is not latin-1 encodable") from None
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raise ValueError(f"{field.name}: expected str, got {type(value).__name__}")
    if len(raw) >= field.max_len:
        raise ValueError(f"{field.name}: {len(raw)} octets, at most {field.max_len - 1} allowed")
    if b"\0" in raw:
        raise ValueError(f"{field.name}: contains a NUL octet")
    return raw


def _octets(field: Field, value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) > field.max_len:
            raise ValueError(f"{field.name}: {len(raw)} octets, at most {field.max_len} allowed")
        return raw
    raise ValueError(f"{field.name}: expected bytes, got {type(value).__name__}")


def _int(field: Field, value: Any) -> int:
    size = {"int1": 1, "int2": 2, "int4": 4}[field.kind]
    if not isinstance(value, int) or not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{field.name}: {value!r} is not an integer of {size} octet(s)")
    return value


# ---------------------------------------------------------------- submit_multi lists

def _dec_dest_list(data: bytes, pos: int, end: int) -> tuple[list[dict[str, Any]], int]:
    count = data[pos]
    pos += 1
    out: list[dict[str, Any]] = []
    for _ in range(count):
        flag = data[pos]
        if flag == table.DEST_FLAG_SME:
            ton, npi = data[pos + 1], data[pos + 2]
            addr, pos = _read_cstr(data, pos + 3, end, table.DEST_SME[2])
            out.append({"dest_flag": 1, "dest_addr_ton": ton, "dest_addr_npi": npi,
                        "destination_addr": addr})
        elif flag == table.DEST_FLAG_DL:
            name, pos = _read_cstr(data, pos + 1, end, table.DEST_DL[0])
            out.append({"dest_flag": 2, "dl_name": name})
        else:
            raise PduError(Status.ESME_RINVDESTFLAG, f"dest_flag {flag} is neither 1 nor 2")
    return out, pos


def _enc_dest_list(dests: list[dict[str, Any]]) -> bytes:
    if len(dests) > table.MAX_DESTS:
        raise ValueError(f"dest_address: {len(dests)} destinations, at most {table.MAX_DESTS}")
    parts = [_LEN1[len(dests)]]
    for d in dests:
        flag = d.get("dest_flag", 1)
        if flag == table.DEST_FLAG_SME:
            ton_f, npi_f, addr_f = table.DEST_SME
            parts += (b"\x01", _LEN1[_int(ton_f, d.get("dest_addr_ton", 0))],
                      _LEN1[_int(npi_f, d.get("dest_addr_npi", 0))],
                      _cstr_bytes(addr_f, d.get("destination_addr", "")), b"\0")
        elif flag == table.DEST_FLAG_DL:
            parts += (b"\x02", _cstr_bytes(table.DEST_DL[0], d.get("dl_name", "")), b"\0")
        else:
            raise ValueError(f"dest_address: dest_flag {flag!r} is neither 1 nor 2")
    return b"".join(parts)


def _dec_unsuccess_list(data: bytes, pos: int, end: int) -> tuple[list[dict[str, Any]], int]:
    count = data[pos]
    pos += 1
    out: list[dict[str, Any]] = []
    ton_f, npi_f, addr_f, _ = table.UNSUCCESS_SME
    for _ in range(count):
        ton, npi = data[pos], data[pos + 1]
        addr, pos = _read_cstr(data, pos + 2, end, addr_f)
        (code,) = struct.unpack_from(">I", data, pos)
        pos += 4
        out.append({"dest_addr_ton": ton, "dest_addr_npi": npi, "destination_addr": addr,
                    "error_status_code": code})
    return out, pos


def _enc_unsuccess_list(items: list[dict[str, Any]]) -> bytes:
    if len(items) > table.MAX_DESTS:
        raise ValueError(f"unsuccess_sme: {len(items)} entries, at most {table.MAX_DESTS}")
    ton_f, npi_f, addr_f, code_f = table.UNSUCCESS_SME
    parts = [_LEN1[len(items)]]
    for u in items:
        parts += (_LEN1[_int(ton_f, u.get("dest_addr_ton", 0))],
                  _LEN1[_int(npi_f, u.get("dest_addr_npi", 0))],
                  _cstr_bytes(addr_f, u.get("destination_addr", "")), b"\0",
                  struct.pack(">I", _int(code_f, u.get("error_status_code", 0))))
    return b"".join(parts)


# ---------------------------------------------------------------- code generation

GENERATED_SOURCE: dict[str, str] = {}


def _build_decoder(command: str, fields: tuple[Field, ...]) -> Callable:
    ns: dict[str, Any] = {"cstr_fail": _cstr_fail, "sm_fail": _sm_fail,
                          "dest_list": _dec_dest_list, "unsuccess_list": _dec_unsuccess_list}
    body = ["    find = data.find"]
    run: list[tuple[int, Field]] = []

    def flush() -> None:
        if not run:
            return
        names = ", ".join(f"v{i}" for i, _ in run)
        if len(run) == 1 and run[0][1].kind == "int1":
            body.extend([f"    {names} = data[pos]", "    pos += 1"])
        else:
            st = struct.Struct(">" + "".join(_FIXED_FMT[f.kind] for _, f in run))
            ns[f"S{run[0][0]}"] = st.unpack_from
            body.extend([f"    {names}, = S{run[0][0]}(data, pos)", f"    pos += {st.size}"])
        run.clear()

    for i, f in enumerate(fields):
        ns[f"F{i}"] = f
        if f.kind in _FIXED_FMT:
            run.append((i, f))
            continue
        flush()
        if f.kind == "cstring":
            body += [f"    z = find(b'\\0', pos, pos + {f.max_len})",
                     f"    if z < 0: cstr_fail(data, pos, end, F{i})",
                     f"    v{i} = data[pos:z].decode('latin-1')",
                     "    pos = z + 1"]
        elif f.kind == "sm":
            body += ["    n = data[pos]", "    pos += 1", "    e = pos + n",
                     f"    if e > end: sm_fail(F{i}, n, end - pos)",
                     f"    v{i} = data[pos:e]", "    pos = e"]
        else:  # dest_list / unsuccess_list
            body.append(f"    v{i}, pos = {f.kind}(data, pos, end)")
    flush()
    result = ", ".join(f"{f.name!r}: v{i}" for i, f in enumerate(fields))
    src = f"def decode_{command}(data, pos, end):\n" + "\n".join(body) + \
        f"\n    return {{{result}}}, pos\n"
    GENERATED_SOURCE[f"decode_{command}"] = src
    exec(compile(src, f"<smpp decode_{command}>", "exec"), ns)
    return ns[f"decode_{command}"]


def _build_encoder(command: str, fields: tuple[Field, ...]) -> Callable:
    ns: dict[str, Any] = {"dest_list": _enc_dest_list, "unsuccess_list": _enc_unsuccess_list,
                          "LEN1": _LEN1, "bytes": bytes, "str": str}
    body: list[str] = []
    parts: list[str] = []
    run: list[tuple[int, Field]] = []

    def flush() -> None:
        if not run:
            return
        st = struct.Struct(">" + "".join(_FIXED_FMT[f.kind] for _, f in run))
        ns[f"S{run[0][0]}"] = st.pack
        args = ", ".join(f"p[{f.name!r}]" for _, f in run)
        body.append(f"    r{run[0][0]} = S{run[0][0]}({args})")
        parts.append(f"r{run[0][0]}")
        run.clear()

    for i, f in enumerate(fields):
        if f.kind in _FIXED_FMT:
            run.append((i, f))
            continue
        flush()
        if f.kind == "cstring":
            body += [f"    v{i} = p[{f.name!r}]",
                     f"    if v{i}.__class__ is str: v{i} = v{i}.encode('latin-1')",
                     f"    if v{i}.__class__ is not bytes or len(v{i}) >= {f.max_len} "
                     f"or b'\\0' in v{i}: raise TypeError",
                     ]
            parts += [f"v{i}", "b'\\0'"]
        elif f.kind == "sm":
            body += [f"    v{i} = p[{f.name!r}]",
                     f"    if v{i}.__class__ is not bytes or len(v{i}) > 254: raise TypeError"]
            parts += [f"LEN1[len(v{i})]", f"v{i}"]
        else:
            body.append(f"    v{i} = {f.kind}(p[{f.name!r}])")
            parts.append(f"v{i}")
    flush()
    joined = "b''.join((" + ", ".join(parts) + ",))" if parts else "b''"
    src = f"def encode_{command}(p):\n" + "\n".join(body + [f"    return {joined}"]) + "\n"
    GENERATED_SOURCE[f"encode_{command}"] = src
    exec(compile(src, f"<smpp encode_{command}>", "exec"), ns)
    return ns[f"encode_{command}"]


def _normalise(command: str, params: dict[str, Any]) -> dict[str, Any]:
    """Slow path after a fast encoder failed: canonical types, or ValueError naming the field."""
    out = dict(params)
    for f in table.PDU_FIELDS[command]:
        value = params.get(f.name, table.default_value(f))
        if f.kind == "cstring":
            out[f.name] = _cstr_bytes(f, value)
        elif f.kind == "sm":
            raw = _octets(f, value)
            if len(raw) > 254:
                raise ValueError(f"short_message: {len(raw)} octets, at most 254 allowed "
                                 "(use message_payload)")
            out[f.name] = raw
        elif f.kind in _FIXED_FMT:
            out[f.name] = _int(f, value)
        elif not isinstance(value, list):
            raise ValueError(f"{f.name}: expected a list, got {type(value).__name__}")
    return out


_DEFAULTS: dict[str, dict[str, Any]] = {c: table.default_params(c) for c in table.PDU_FIELDS}
_DECODERS: dict[int, tuple[str, Callable, bool]] = {}
_ENCODERS: dict[str, Callable] = {}
for _name, _fields in table.PDU_FIELDS.items():
    _DECODERS[COMMAND_IDS[_name]] = (_name, _build_decoder(_name, _fields),
                                     _name in table.NO_BODY_ON_ERROR)
    _ENCODERS[_name] = _build_encoder(_name, _fields)
assert set(table.PDU_FIELDS) == set(COMMAND_IDS), "pdu_table must cover every command"
_DEFAULT_BODIES = {c: _ENCODERS[c](_DEFAULTS[c]) for c in table.PDU_FIELDS}
_DEFAULT_LENGTHS = {c: HEADER_LENGTH + len(body) for c, body in _DEFAULT_BODIES.items()}


# ---------------------------------------------------------------- TLVs

_INT, _CSTR, _OCT = 0, 1, 2
_KIND_CODE = {TlvKind.INT: _INT, TlvKind.CSTRING: _CSTR, TlvKind.OCTETS: _OCT}
# tag -> (name, kind code, min length, max length)
_TLV_DEC = {t.tag: (t.name, _KIND_CODE[t.kind], t.min_len, t.max_len) for t in TLV_BY_TAG.values()}


def _dec_tlvs(data: bytes, pos: int, end: int) -> tuple[dict[str, Any], list[tuple[int, bytes]]]:
    tlvs: dict[str, Any] = {}
    unknown: list[tuple[int, bytes]] = []
    while pos < end:
        if pos + 4 > end:
            raise PduError(Status.ESME_RINVOPTPARSTREAM,
                           f"{end - pos} stray octet(s) after the last TLV")
        tag, length = _TL.unpack_from(data, pos)
        pos += 4
        nxt = pos + length
        if nxt > end:
            raise PduError(Status.ESME_RINVPARLEN,
                           f"TLV 0x{tag:04X} length {length} runs past the body "
                           f"({end - pos} octets left)")
        spec = _TLV_DEC.get(tag)
        if spec is None:
            unknown.append((tag, data[pos:nxt]))
        else:
            name, kind, lo, hi = spec
            if kind == _INT:
                if length != lo and not lo <= length <= hi:
                    raise PduError(Status.ESME_RINVPARLEN,
                                   f"TLV {name} has length {length}, expected {lo}")
                tlvs[name] = data[pos] if length == 1 else int.from_bytes(data[pos:nxt], "big")
            else:
                if not lo <= length <= hi:
                    raise PduError(Status.ESME_RINVPARLEN,
                                   f"TLV {name} has length {length}, expected {lo}..{hi}")
                if kind == _CSTR:
                    z = data.find(b"\0", pos, nxt)
                    tlvs[name] = data[pos:nxt if z < 0 else z].decode("latin-1")
                else:
                    tlvs[name] = data[pos:nxt]
        pos = nxt
    return tlvs, unknown


# name -> (tag, kind code, size or min length, max length, fixed tag+length header for ints)
_TLV_ENC = {t.name: (t.tag, _KIND_CODE[t.kind], t.size or t.min_len, t.max_len,
                     _TL.pack(t.tag, t.size) if t.kind is TlvKind.INT else b"")
            for t in TLV_BY_NAME.values()}


def _enc_tlvs(tlvs: dict[str, Any]) -> bytes:
    out = []
    for name, value in tlvs.items():
        spec = _TLV_ENC.get(name)
        if spec is None:
            raise ValueError(f"unknown TLV {name!r} (put vendor TLVs in unknown_tlvs)")
        tag, kind, lo, hi, head = spec
        if kind == _INT:
            if value.__class__ is not int or not 0 <= value < 1 << (8 * lo):
                if not isinstance(value, int) or not 0 <= value < 1 << (8 * lo):
                    raise ValueError(f"TLV {name}: {value!r} is not an integer of {lo} octet(s)")
            out.append(head + value.to_bytes(lo, "big"))
            continue
        if kind == _CSTR:
            try:
                raw = value.encode("latin-1") if value.__class__ is str else b"\0"
            except UnicodeEncodeError:
                raw = b"\0"
            if len(raw) >= hi or b"\0" in raw:
                raw = _cstr_bytes(Field(f"TLV {name}", "cstring", hi), value)
            raw += b"\0"
        else:
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise ValueError(f"TLV {name}: expected bytes, got {type(value).__name__}")
            raw = bytes(value)
            if not lo <= len(raw) <= hi:
                raise ValueError(f"TLV {name}: {len(raw)} octets, expected {lo}..{hi}")
        out.append(_TL.pack(tag, len(raw)) + raw)
    return b"".join(out)


def _enc_unknown(unknown: list[tuple[int, bytes]]) -> bytes:
    out = []
    for tag, raw in unknown:
        if not isinstance(tag, int) or not 0 <= tag <= 0xFFFF:
            raise ValueError(f"unknown TLV tag {tag!r} is not a 16-bit integer")
        raw = bytes(raw)
        if len(raw) > 0xFFFF:
            raise ValueError(f"unknown TLV 0x{tag:04X}: {len(raw)} octets is too long")
        out.append(_TL.pack(tag, len(raw)) + raw)
    return b"".join(out)


# ---------------------------------------------------------------- public API

_new_pdu = Pdu.__new__
_MAX32 = 0xFFFFFFFF


def decode(data: bytes) -> Pdu:
    """Decode one whole PDU (header included). Raises PduError carrying the status to
    answer with, and the command_id/sequence when the header could be read."""
    if data.__class__ is not bytes:
        data = bytes(data)
    end = len(data)
    if end < HEADER_LENGTH:
        raise PduError(Status.ESME_RINVCMDLEN, f"{end} octets is shorter than a PDU header")
    length, command_id, status, sequence = _unpack_header(data)
    if length != end:
        raise PduError(Status.ESME_RINVCMDLEN,
                       f"command_length {length} but {end} octets given", command_id, sequence)
    entry = _DECODERS.get(command_id)
    if entry is None:
        raise PduError(Status.ESME_RINVCMDID, f"unknown command_id 0x{command_id:08X}",
                       command_id, sequence)
    command, decode_body, no_body_on_error = entry
    pdu = _new_pdu(Pdu)
    pdu.command = command
    pdu.command_id = command_id
    pdu.status = status
    pdu.sequence = sequence
    try:
        if end == HEADER_LENGTH and command_id & RESPONSE_BIT:
            params, tlvs, unknown = dict(_DEFAULTS[command]), {}, []
        elif no_body_on_error and status:
            params, tlvs, unknown = _decode_error_body(command, decode_body, data, end)
        else:
            params, pos = decode_body(data, HEADER_LENGTH, end)
            if pos < end:
                tlvs, unknown = _dec_tlvs(data, pos, end)
            else:
                tlvs, unknown = {}, []
    except (IndexError, struct.error):
        raise PduError(Status.ESME_RINVCMDLEN, f"{command} body is truncated",
                       command_id, sequence) from None
    except PduError as exc:
        exc.command_id, exc.sequence = command_id, sequence
        exc.message = f"{command}: {exc.message}"
        exc.args = (exc.message,)
        raise
    pdu.params = params
    pdu.tlvs = tlvs
    pdu.unknown_tlvs = unknown
    return pdu


def _decode_error_body(command: str, decode_body: Callable, data: bytes, end: int) -> tuple:
    """A response SMPP 3.4 sends without body on error: take TLVs, else a legacy body,
    else ignore the octets (the status is what matters)."""
    try:
        return (dict(_DEFAULTS[command]), *_dec_tlvs(data, HEADER_LENGTH, end))
    except PduError:
        pass
    try:
        params, pos = decode_body(data, HEADER_LENGTH, end)
        return (params, *_dec_tlvs(data, pos, end))
    except (PduError, IndexError, struct.error):
        return dict(_DEFAULTS[command]), {}, []


def encode(pdu: Pdu) -> bytes:
    """Encode a Pdu to bytes. Raises ValueError naming the field that does not fit."""
    return _encode(pdu.command, pdu.status, pdu.sequence, pdu.params, pdu.tlvs, pdu.unknown_tlvs)


def encode_fields(command: str, sequence: int, status: int = 0,
                  params: dict[str, Any] | None = None, tlvs: dict[str, Any] | None = None,
                  unknown_tlvs: list[tuple[int, bytes]] | None = None) -> bytes:
    """``encode(Pdu(command, sequence, status, params, tlvs, unknown_tlvs))`` without the
    Pdu: what a session sends is never read back, so the object is pure overhead (~0.5 µs
    of the ~2 µs an outgoing submit_sm costs). Same checks, same ValueErrors."""
    defaults = _DEFAULTS.get(command)
    if defaults is None:
        raise ValueError(f"unknown SMPP command {command!r}")
    if not params and not tlvs and not unknown_tlvs and not status:
        # deliver_sm_resp, enquire_link...: the body is a constant, encoded once at import
        try:
            return _pack_header(_DEFAULT_LENGTHS[command], COMMAND_IDS[command], 0,
                                sequence) + _DEFAULT_BODIES[command]
        except struct.error:
            pass  # a bad sequence: _encode names it
    return _encode(command, status, sequence, _with_defaults(command, defaults, params) if params else defaults,
                   tlvs, unknown_tlvs)


def _with_defaults(command: str, defaults: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` completed with the command's defaults; a name the command lacks is an error."""
    merged = {**defaults, **params}
    if len(merged) != len(defaults):
        raise ValueError(f"{command} has no parameter(s) {sorted(params.keys() - defaults.keys())}")
    return merged


def _encode(command: str, status: int, sequence: int, params: dict[str, Any],
            tlvs: dict[str, Any] | None, unknown_tlvs: list[tuple[int, bytes]] | None) -> bytes:
    encoder = _ENCODERS.get(command)
    if encoder is None:
        raise ValueError(f"unknown SMPP command {command!r}")
    if status and command in table.NO_BODY_ON_ERROR:
        body = b""
    else:
        try:
            body = encoder(params)
        except (TypeError, ValueError, KeyError, AttributeError, struct.error):
            body = encoder(_normalise(command, params))
    if tlvs:
        body += _enc_tlvs(tlvs)
    if unknown_tlvs:
        body += _enc_unknown(unknown_tlvs)
    try:
        return _pack_header(HEADER_LENGTH + len(body), COMMAND_IDS[command],
                            status, sequence) + body
    except struct.error:
        for name, value in (("status", status), ("sequence", sequence)):
            if not isinstance(value, int) or not 0 <= value <= _MAX32:
                raise ValueError(f"{name}: {value!r} is not a 32-bit unsigned integer") from None
        raise ValueError(f"PDU of {len(body)} body octets is too long") from None


_RESPONSE_NAMES = {name: COMMAND_NAMES[cid | RESPONSE_BIT] for name, cid in COMMAND_IDS.items()
                   if not cid & RESPONSE_BIT and name not in NO_RESPONSE}


def response_name(command: str) -> str:
    """The name of the response to a request command ("submit_sm" -> "submit_sm_resp")."""
    name = _RESPONSE_NAMES.get(command)
    if name is None:
        raise ValueError(f"{command} has no response PDU")
    return name


def make_response(request: Pdu, status: int = 0, **params: Any) -> Pdu:
    """The response to ``request`` with the same sequence. For responses that SMPP 3.4
    sends without body on error (bind_*_resp, submit_sm_resp), a non-zero status encodes
    with an empty body whatever params say."""
    return Pdu(response_name(request.command), request.sequence, status, params)


def generic_nack(sequence: int, status: int) -> Pdu:
    return Pdu("generic_nack", sequence, status)


def error_response(error: PduError) -> Pdu:
    """What to answer a PDU that failed to decode: the command's own response when the
    command is known and has one, else generic_nack, echoing the sequence number."""
    name = COMMAND_NAMES.get(error.command_id) if error.command_id is not None else None
    sequence = error.sequence or 0
    if name is None or name in NO_RESPONSE or error.command_id & RESPONSE_BIT:
        return generic_nack(sequence, error.status)
    return Pdu(response_name(name), sequence, error.status)


def encode_tlvs(tlvs: dict[str, Any], unknown_tlvs: list[tuple[int, bytes]] | None = None) -> bytes:
    """Optional parameters alone, as on the wire (standard ones first, then vendor ones in
    their order): what the engine stores to relay a message's TLVs upstream."""
    return _enc_tlvs(tlvs) + _enc_unknown(unknown_tlvs or [])


def decode_tlvs(raw: bytes) -> tuple[dict[str, Any], list[tuple[int, bytes]]]:
    """The inverse of encode_tlvs; raises PduError on a malformed stream. Any bytes-like
    ``raw`` is accepted (PostgreSQL's driver hands bytea columns over as memoryview)."""
    if raw.__class__ is not bytes:
        raw = bytes(raw)
    return _dec_tlvs(raw, 0, len(raw))
