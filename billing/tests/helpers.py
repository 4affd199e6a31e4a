"""Shared set-up of the billing tests: a company ready to bill, trips completed through the
services, and stand-ins for h-billdoc's modules (billing/references.py, pdf.py, camt.py)
used only while those are not merged yet (`billing_docs` installs them when missing)."""

from __future__ import annotations

import importlib
import sys
import types
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.models import BillingSettings, Tariff
from bookings import services as booking_services
from tests.factories import BookingFactory, ClientFactory, DriverFactory

ZURICH = ZoneInfo("Europe/Zurich")
QR_IBAN = "CH4431999123000889012"
IBAN = "CH9300762011623852957"


# --- stand-ins (only when the real modules are missing) ------------------------------------
def _mod10(digits: str) -> int:
    table = [0, 9, 4, 6, 8, 2, 7, 1, 3, 5]
    carry = 0
    for ch in digits:
        carry = table[(carry + int(ch)) % 10]
    return (10 - carry) % 10


def _standin_references() -> types.ModuleType:
    module = types.ModuleType("billing.references")

    def qr_reference_build(base: str) -> str:
        base = base.zfill(26)
        return base + str(_mod10(base))

    def creditor_reference_build(base: str) -> str:
        numeric = "".join(str(int(c, 36)) for c in base + "RF00")
        return f"RF{98 - int(numeric) % 97:02d}{base}"

    def iban_clean(value: str) -> str:
        iban = "".join(value.split()).upper()
        if len(iban) != 21 or not iban.startswith(("CH", "LI")):
            raise ValueError("Not a Swiss IBAN.")
        numeric = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
        if int(numeric) % 97 != 1:
            raise ValueError("The IBAN's check digits are wrong.")
        return iban

    def iban_is_qr(iban: str) -> bool:
        return 30000 <= int(iban[4:9]) <= 31999

    def reference_is_valid(ref: str) -> bool:
        return ref.isdigit() and len(ref) == 27 and _mod10(ref[:-1]) == int(ref[-1])

    for fn in (
        qr_reference_build,
        creditor_reference_build,
        iban_clean,
        iban_is_qr,
        reference_is_valid,
    ):
        setattr(module, fn.__name__, fn)
    return module


def _standin_pdf() -> types.ModuleType:
    module = types.ModuleType("billing.pdf")

    @dataclass(frozen=True)
    class PdfParty:
        name: str
        street: str
        house_number: str
        postal_code: str
        city: str
        country: str = "CH"

    @dataclass(frozen=True)
    class PdfLine:
        day: date
        description: str
        km: Decimal | None
        amount: Decimal

    @dataclass(frozen=True)
    class PdfDocument:
        kind: str
        number: str
        issue_date: date
        due_date: date | None
        creditor: PdfParty
        creditor_iban: str
        debtor: PdfParty
        lines: tuple
        total: Decimal
        amount_due: Decimal
        reference: str | None
        reminder_level: int | None = None
        fee: Decimal | None = None
        note: str = ""

    def document_pdf_render(doc: PdfDocument) -> bytes:
        return f"%PDF-standin {doc.kind} {doc.number} {doc.amount_due} {doc.reference}".encode()

    for item in (PdfParty, PdfLine, PdfDocument, document_pdf_render):
        setattr(module, item.__name__, item)
    return module


NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"


def _standin_camt() -> types.ModuleType:
    module = types.ModuleType("billing.camt")

    class CamtError(Exception):
        def __init__(self, detail: str) -> None:
            super().__init__(detail)
            self.detail = detail

    @dataclass(frozen=True)
    class CamtEntry:
        entry_id: str
        reference: str | None
        amount: Decimal
        currency: str
        booked_on: date | None
        debtor_name: str

    @dataclass(frozen=True)
    class CamtFile:
        message_id: str
        entries: tuple

    def camt054_parse(data: bytes) -> CamtFile:
        if len(data) > 10 * 1024 * 1024:
            raise CamtError("over 10 MB")
        try:
            root = ET.fromstring(data)  # noqa: S314  (a test stand-in, our own bytes)
        except ET.ParseError:
            raise CamtError("not XML") from None
        if root.tag != f"{{{NS}}}Document":
            raise CamtError("not camt.054")
        ns = {"c": NS}
        entries = tuple(
            CamtEntry(
                entry_id=e.findtext("c:NtryRef", namespaces=ns) or "",
                reference=e.findtext(".//c:Ref", namespaces=ns),
                amount=Decimal(e.findtext("c:Amt", namespaces=ns) or "0"),
                currency=e.find("c:Amt", ns).get("Ccy", "CHF"),  # type: ignore[union-attr]
                booked_on=date.fromisoformat(e.findtext(".//c:Dt", namespaces=ns) or "2026-01-01"),
                debtor_name="",
            )
            for e in root.iter(f"{{{NS}}}Ntry")
        )
        return CamtFile(
            message_id=root.findtext(".//c:MsgId", namespaces=ns) or "", entries=entries
        )

    for item in (CamtError, CamtEntry, CamtFile, camt054_parse):
        setattr(module, item.__name__, item)
    return module


def _standin_camt054_build(entries, message_id: str = "MSG-1") -> bytes:
    parts = "".join(
        f'<Ntry><NtryRef>{e.entry_id}</NtryRef><Amt Ccy="{e.currency}">{e.amount}</Amt>'
        f"<BookgDt><Dt>{(e.booked_on or date(2026, 1, 1)).isoformat()}</Dt></BookgDt>"
        f"<NtryDtls><TxDtls><RmtInf><Strd><CdtrRefInf><Ref>{e.reference or ''}</Ref>"
        "</CdtrRefInf></Strd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for e in entries
    )
    return (
        f'<?xml version="1.0"?><Document xmlns="{NS}"><BkToCstmrDbtCdtNtfctn>'
        f"<GrpHdr><MsgId>{message_id}</MsgId></GrpHdr><Ntfctn>{parts}</Ntfctn>"
        "</BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()


_STANDINS = {
    "billing.references": _standin_references,
    "billing.pdf": _standin_pdf,
    "billing.camt": _standin_camt,
}


@pytest.fixture(autouse=True)
def billing_docs(monkeypatch):
    """The document modules: the real ones when merged, else the stand-ins above."""
    for name, build in _STANDINS.items():
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            monkeypatch.setitem(sys.modules, name, build())
    yield


def camt054_build(entries, message_id: str = "MSG-1") -> bytes:
    """A camt.054 paying `entries` (CamtEntry): h-billdoc's sample builder once merged (the
    bank's transaction reference is the entry id), else the stand-in above."""
    try:
        from billing.tests.camt_samples import camt054_build as real
    except ModuleNotFoundError:
        return _standin_camt054_build(entries, message_id=message_id)
    return real(
        [
            {
                "amount": e.amount,
                "reference": e.reference,
                "currency": e.currency,
                "booked_on": e.booked_on,
                "debtor_name": e.debtor_name,
                "bank_ref": e.entry_id,
            }
            for e in entries
        ],
        message_id=message_id,
    )


def camt_entry(**fields):
    from billing.camt import CamtEntry

    values = {
        "entry_id": "E1",
        "reference": None,
        "amount": Decimal("10.00"),
        "currency": "CHF",
        "booked_on": date(2026, 12, 1),
        "debtor_name": "Someone",
    }
    values.update(fields)
    return CamtEntry(**values)


# --- a company ready to bill ----------------------------------------------------------------
def billing_ready(company, *, iban: str = QR_IBAN) -> BillingSettings:
    settings, _ = BillingSettings.objects.get_or_create(company=company)
    settings.creditor_name = company.name
    settings.street, settings.house_number = "Avenue de la Gare", "1"
    settings.postal_code, settings.city = "1003", "Lausanne"
    settings.iban = iban
    settings.save()
    return settings


def tariff(company, *, valid_from: date = date(2026, 1, 1), **prices) -> Tariff:
    values = {
        "base_fare": Decimal("20.00"),
        "per_km": Decimal("2.00"),
        "minimum_fare": Decimal("30.00"),
        "wheelchair_supplement": Decimal("15.00"),
        "stretcher_supplement": Decimal("40.00"),
        "night_supplement": Decimal("12.00"),
        "weekend_supplement": Decimal("8.00"),
        "holiday_supplement": Decimal("10.00"),
        "waiting_free_minutes": 10,
        "waiting_per_5_minutes": Decimal("4.50"),
        "late_cancel_fee": Decimal("35.00"),
        "no_show_fee": Decimal("45.00"),
    }
    values.update(prices)
    return Tariff.objects.create(company=company, valid_from=valid_from, **values)


def trip(company, *, at: datetime, client=None, driver=None, **fields):
    """A booking assigned to a driver on `at` (aware)."""
    driver = driver or DriverFactory(company=company)
    client = client or ClientFactory(company=company, address="Rue du Lac 5, 1007 Lausanne")
    return BookingFactory(
        company=company,
        client=client,
        driver=driver,
        vehicle=driver.default_vehicle,
        status="assigned",
        scheduled_at=at,
        pickup_earliest=at - timedelta(minutes=10),
        pickup_latest=at + timedelta(minutes=15),
        pickup_lat=46.52,
        pickup_lon=6.63,
        dropoff_lat=46.2,
        dropoff_lon=6.15,
        **fields,
    )


def complete(booking, capture):
    """Complete `booking` as the office does, running the on-commit hooks."""
    with capture(execute=True):
        booking_services.booking_set_status(booking=booking, status="completed")
    booking.refresh_from_db()
    return booking
