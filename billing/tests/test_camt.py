from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.camt import MAX_BYTES, CamtError, camt054_parse
from billing.tests.camt_samples import camt054_build

QRR = "210000000003139471430009017"
SCOR = "RF18539007547034"

PAYMENTS = [
    {"amount": "120.50", "reference": QRR, "debtor_name": "Hans Muster"},
    {"amount": "80.00", "reference": "RF18 5390 0754 7034", "debtor_name": "Spitex Bern"},
    {"amount": "45.00", "reference": None, "debtor_name": "Anna Beispiel"},
]


@pytest.mark.parametrize("version", ["001.04", "001.08"])
@pytest.mark.parametrize("batch", [False, True])
def test_parses_credits_of_both_versions(version, batch):
    parsed = camt054_parse(
        camt054_build(PAYMENTS, message_id="MSG-1", version=version, batch=batch)
    )

    assert parsed.message_id == "MSG-1"
    assert [(e.reference, e.amount, e.currency, e.debtor_name) for e in parsed.entries] == [
        (QRR, Decimal("120.50"), "CHF", "Hans Muster"),
        (SCOR, Decimal("80.00"), "CHF", "Spitex Bern"),  # spaces dropped
        (None, Decimal("45.00"), "CHF", "Anna Beispiel"),
    ]
    assert {e.booked_on for e in parsed.entries} == {date(2026, 11, 30)}
    assert [e.entry_id for e in parsed.entries] == ["MSG-1-0", "MSG-1-1", "MSG-1-2"]


@pytest.mark.parametrize("version", ["001.04", "001.08"])
def test_only_booked_credits_are_payments(version):
    data = camt054_build(
        [
            {"amount": "10.00", "reference": QRR},
            {"amount": "99.00", "reference": QRR, "credit_debit": "DBIT"},
            {"amount": "20.00", "reference": QRR, "status": "PDNG"},
        ],
        version=version,
    )
    assert [e.amount for e in camt054_parse(data).entries] == [Decimal("10.00")]


def test_debit_in_a_batch_is_skipped():
    data = camt054_build(
        [{"amount": "10.00", "reference": QRR}, {"amount": "3.00", "credit_debit": "DBIT"}],
        batch=True,
    )
    assert [e.amount for e in camt054_parse(data).entries] == [Decimal("10.00")]


def test_entry_ids_without_bank_reference_are_stable_and_distinct():
    same = {"amount": "50.00", "reference": QRR, "bank_ref": None, "debtor_name": "A"}
    data = camt054_build([same, dict(same)], batch=True)

    first, second = camt054_parse(data), camt054_parse(data)

    ids = [e.entry_id for e in first.entries]
    assert ids == [e.entry_id for e in second.entries]
    assert len(set(ids)) == 2  # two equal payments stay two
    assert all(entry_id.startswith("h:") for entry_id in ids)


def test_single_payment_entry_takes_the_entry_reference():
    data = camt054_build([{"amount": "5.00", "bank_ref": None}], message_id="M")
    assert camt054_parse(data).entries[0].entry_id == "M-E0"


def test_repeated_bank_reference_is_kept_once():
    payment = {"amount": "5.00", "reference": QRR, "bank_ref": "TX-1"}
    assert len(camt054_parse(camt054_build([payment, dict(payment)])).entries) == 1


def test_booking_date_time_and_missing_date():
    data = camt054_build([{"amount": "5.00", "booked_on": None}])
    assert camt054_parse(data).entries[0].booked_on is None
    data = camt054_build([{"amount": "5.00", "booked_on": None}]).replace(
        b"<AcctSvcrRef>CAMT054-20261130-0001-E0",
        b"<BookgDt><DtTm>2026-11-29T10:00:00</DtTm></BookgDt><AcctSvcrRef>CAMT054-20261130-0001-E0",
    )
    assert camt054_parse(data).entries[0].booked_on == date(2026, 11, 29)


def test_empty_notification_has_no_entries():
    parsed = camt054_parse(camt054_build([], message_id="EMPTY"))
    assert parsed.message_id == "EMPTY" and parsed.entries == ()


@pytest.mark.parametrize(
    "data",
    [b"", b"%PDF-1.7 not xml", b"<Document><unclosed></Document>", "Zahlung ä".encode("latin-1")],
)
def test_refuses_what_is_not_xml(data):
    with pytest.raises(CamtError, match=r"not well-formed XML|empty"):
        camt054_parse(data)


@pytest.mark.parametrize(
    "namespace",
    [
        b"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
        b"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09",
        b"http://example.com/camt.054.001.08",
    ],
)
def test_refuses_other_namespaces(namespace):
    data = camt054_build(PAYMENTS).replace(
        b"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08", namespace
    )
    with pytest.raises(CamtError, match=r"Not a camt\.054") as caught:
        camt054_parse(data)
    assert namespace.decode() in caught.value.detail


def test_refuses_no_namespace():
    with pytest.raises(CamtError, match="no namespace"):
        camt054_parse(b"<Document><BkToCstmrDbtCdtNtfctn/></Document>")


def test_refuses_files_over_10_mb():
    data = camt054_build(PAYMENTS)
    data = data.replace(b"</Document>", b" " * (MAX_BYTES - len(data) + 1) + b"</Document>")
    assert len(data) == MAX_BYTES + 1
    with pytest.raises(CamtError, match="over 10 MB"):
        camt054_parse(data)


def test_accepts_a_file_of_exactly_10_mb():
    data = camt054_build(PAYMENTS)
    data = data.replace(b"</Document>", b" " * (MAX_BYTES - len(data)) + b"</Document>")
    assert len(data) == MAX_BYTES
    assert len(camt054_parse(data).entries) == 3


@pytest.mark.parametrize("amount", ["12,50", "-5.00", "NaN", "1e3", "", "1.123456", "Infinity"])
def test_refuses_malformed_amounts_whole(amount):
    data = camt054_build([{"amount": "10.00", "reference": QRR}, {"amount": amount}])
    with pytest.raises(CamtError, match="Malformed amount"):
        camt054_parse(data)


def test_refuses_missing_currency():
    data = camt054_build([{"amount": "10.00"}]).replace(b' Ccy="CHF"', b"")
    with pytest.raises(CamtError, match="Malformed currency"):
        camt054_parse(data)


def test_refuses_malformed_booking_date():
    data = camt054_build([{"amount": "10.00", "booked_on": date(2026, 11, 30)}]).replace(
        b"<BookgDt><Dt>2026-11-30", b"<BookgDt><Dt>30.11.2026"
    )
    with pytest.raises(CamtError, match="booking date"):
        camt054_parse(data)


def test_refuses_missing_message_id():
    data = camt054_build(PAYMENTS, message_id="X").replace(b"<MsgId>X</MsgId>", b"")
    with pytest.raises(CamtError, match="message id"):
        camt054_parse(data)


def test_external_entity_is_refused_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = camt054_build([{"amount": "1.00", "debtor_name": "PLACEHOLDER"}])
    body = body.replace(b"PLACEHOLDER", b"&xxe;").replace(
        b"<Document",
        f'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://{secret}">]><Document'.encode(),
    )
    with pytest.raises(CamtError, match="DTD or entities") as caught:
        camt054_parse(body)
    assert "TOP-SECRET" not in caught.value.detail


def test_entity_expansion_bomb_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">&lol2;</Document>'
    )
    with pytest.raises(CamtError, match="DTD or entities"):
        camt054_parse(bomb)
