"""+CMS / +CME / ERROR classification table and status-report matching (modemfarm.reports)."""

from __future__ import annotations

import pytest

from modemfarm import cms, reports
from modemfarm.cms import CmsClass
from modemfarm.reports import DeliveryState, Submission, SubmissionIndex

R, O, F, Q = (CmsClass.RETRY_SAME_LATER, CmsClass.RETRY_OTHER_MODEM, CmsClass.FAIL_MESSAGE,
              CmsClass.MODEM_OUT_OF_SERVICE)


@pytest.mark.parametrize(
    ("label", "kind", "code", "cls"),
    [
        ("net out of order", "CMS", 38, O), ("temporary failure", "CMS", 41, O),
        ("congestion", "CMS", 42, O), ("resources unavailable", "CMS", 47, O),
        ("SC busy", "CMS", 192, O), ("no network service", "CMS", 331, O),
        ("network timeout", "CMS", 332, O), ("vendor network 615", "CMS", 615, O),
        ("unknown error 500", "CMS", 500, R), ("vendor 512", "CMS", 512, R),
        ("SIM busy", "CMS", 314, R), ("busy 535", "CMS", 535, R),
        ("unassigned number", "CMS", 1, F), ("transfer rejected", "CMS", 21, F),
        ("unknown subscriber", "CMS", 30, F), ("invalid mandatory info", "CMS", 96, F),
        ("DCS unsupported", "CMS", 144, F), ("invalid SME address", "CMS", 195, F),
        ("destination barred", "CMS", 196, F), ("duplicate", "CMS", 197, F),
        ("invalid PDU param", "CMS", 304, F), ("invalid text param", "CMS", 305, F),
        ("operator barring", "CMS", 8, Q), ("call barred", "CMS", 10, Q),
        ("facility not subscribed", "CMS", 50, Q), ("no SC subscription", "CMS", 193, Q),
        ("SIM not inserted", "CMS", 310, Q), ("SIM PIN", "CMS", 311, Q), ("PUK", "CMS", 316, Q),
        ("SIM failure", "CMS", 313, Q), ("SMSC unknown", "CMS", 330, Q),
        ("CME SIM busy", "CME", 14, R), ("CME 515", "CME", 515, R), ("CME no SIM", "CME", 10, Q),
        ("bare ERROR", "ERROR", None, R), ("CMS without number", "CMS", None, R),
        ("unknown CMS code: documented default", "CMS", 77, cms.DEFAULT_CLASS),
        ("unknown CME code: documented default", "CME", 999, cms.DEFAULT_CLASS),
    ],
)
def test_classification(label, kind, code, cls):
    """Each error code maps to the class in the reference table."""
    assert cms.classify(kind, code).cls is cls, label


def test_side_actions():
    """331/332 ask for a registration check; 330 asks for an SMSC repair."""
    assert cms.classify_cms(331).check_registration and cms.classify_cms(332).check_registration
    assert cms.classify_cms(330).repair_smsc and not cms.classify_cms(38).repair_smsc
    assert "CMS 42" in cms.classify_cms(42).reason


@pytest.mark.parametrize(
    ("label", "status", "state", "final"),
    [
        ("received by SME", 0x00, DeliveryState.DELIVERED, True),
        ("forwarded, unconfirmed", 0x01, DeliveryState.DELIVERED, True),
        ("SC-specific ok", 0x1F, DeliveryState.DELIVERED, True),
        ("congestion, still trying", 0x20, DeliveryState.ENROUTE, False),
        ("SME busy, still trying", 0x21, DeliveryState.ENROUTE, False),
        ("reserved temporary", 0x3F, DeliveryState.ENROUTE, False),
        ("remote procedure error", 0x40, DeliveryState.UNDELIVERABLE, True),
        ("connection rejected", 0x42, DeliveryState.REJECTED, True),
        ("validity expired", 0x46, DeliveryState.EXPIRED, True),
        ("deleted by originator", 0x47, DeliveryState.DELETED, True),
        ("gave up: congestion", 0x60, DeliveryState.UNDELIVERABLE, True),
        ("gave up: service rejected", 0x63, DeliveryState.REJECTED, True),
        ("reserved high", 0x80, DeliveryState.UNKNOWN, True),
    ],
)
def test_status_meaning(label, status, state, final):
    """TP-ST maps to a delivery state; 0x20-0x3F is not final."""
    meaning = reports.status_meaning(status)
    assert (meaning.state, meaning.final) == (state, final), label


def sub(ref, mr, at, to="+15551234567", modem="imei1"):
    return Submission(ref, modem, mr, to, at)


def test_intermediate_then_final():
    """A 0x20 report is recorded, then 0x00 makes it DELIVERED; a repeat is a duplicate."""
    index = SubmissionIndex()
    s = sub("m1", 42, 100)
    index.add(s)
    assert index.apply("imei1", 42, "+15551234567", 0x20, 110).submission is s
    assert not s.final and s.state is DeliveryState.ENROUTE
    assert index.apply("imei1", 42, "+15551234567", 0x00, 120).submission is s
    assert s.final and s.state is DeliveryState.DELIVERED and s.history == [0x20, 0x00]
    again = index.apply("imei1", 42, "+15551234567", 0x46, 130)
    assert again.duplicate and s.state is DeliveryState.DELIVERED


def test_mr_wrap_newest_first():
    """After the MR wraps (start 250, 10 sends), a report for MR 2 matches the newest submission."""
    index = SubmissionIndex()
    old = sub("old", 2, 10)
    index.add(old)
    for i in range(10):
        index.add(sub(f"new{i}", (250 + i) & 0xFF, 1000 + i))
    result = index.apply("imei1", 2, "+15551234567", 0, 1100)
    assert result.submission.message_ref == "new8"
    assert not old.final


@pytest.mark.parametrize(
    ("label", "modem", "mr", "to", "at", "matched"),
    [
        ("same key", "imei1", 7, "+15551234567", 50, True),
        ("national form of the recipient", "imei1", 7, "5551234567", 50, True),
        ("other recipient with the same MR", "imei1", 7, "+15559999999", 50, False),
        ("other modem", "imei2", 7, "+15551234567", 50, False),
        ("outside the window", "imei1", 7, "+15551234567", 8 * 86400, False),
        ("unknown MR is unmatched, not a crash", "imei1", 99, "+15551234567", 50, False),
    ],
)
def test_match_key(label, modem, mr, to, at, matched):
    """Reports match on (modem, MR, recipient) within the window."""
    index = SubmissionIndex()
    index.add(sub("m", 7, 10))
    assert index.apply(modem, mr, to, 0, at).matched is matched, label


def test_multipart_aggregate():
    """A multipart message is final only when every part is; any failure fails it."""
    a, b = sub("m", 1, 0), sub("m", 2, 0)
    assert reports.aggregate([a, b]) is None
    a.final, a.state = True, DeliveryState.DELIVERED
    b.final, b.state = True, DeliveryState.EXPIRED
    assert reports.aggregate([a, b]) is DeliveryState.EXPIRED
    b.state = DeliveryState.DELIVERED
    assert reports.aggregate([a, b]) is DeliveryState.DELIVERED
