from __future__ import annotations

from datetime import date, datetime

import pytest
from django.core.management import call_command

from billing import invoicing
from billing.models import Invoice, TripCharge
from billing.payments import payments_import
from billing.tests.helpers import ZURICH, camt054_build, camt_entry
from bookings.models import Booking

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.clock(datetime(2027, 1, 21, 7, 0, tzinfo=ZURICH)),
]


def test_completed_demo_days_bill_and_half_paid_by_camt(capsys, django_capture_on_commit_callbacks):
    # The test's transaction holds the commits: run their hooks (the pricing) as they would.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--completed-days", "3", "--bookings-per-day", "8", "--days", "1")
    out = capsys.readouterr().out
    assert "2027-01-18 to 2027-01-20" in out
    past = Booking.objects.filter(scheduled_at__lt=datetime(2027, 1, 21, tzinfo=ZURICH))
    assert past.count() == 24
    assert not past.filter(status__in=["pending", "assigned", "en_route", "on_board"]).exists()
    assert TripCharge.objects.filter(priced_at__isnull=False).count() == 24
    today = Booking.objects.filter(scheduled_at__gte=datetime(2027, 1, 21, tzinfo=ZURICH))
    assert set(today.values_list("status", flat=True)) == {"pending"}

    company = past.first().company
    drafts = invoicing.invoice_generate(company=company, month=date(2027, 1, 1))
    issued = [invoicing.invoice_issue(invoice=inv) for inv in drafts]
    assert sum(inv.lines.count() for inv in issued) == 24
    for inv in issued:
        assert inv.total == sum(line.amount for line in inv.lines.all())
    _qr_bills_match(issued[:3])
    half = issued[::2]
    data = camt054_build(
        [
            camt_entry(entry_id=f"E{n}", reference=inv.reference, amount=inv.total)
            for n, inv in enumerate(half)
        ]
    )
    payments_import(company=company, data=data)
    paid = set(Invoice.objects.filter(status="paid").values_list("pk", flat=True))
    assert paid == {inv.pk for inv in half}


def _qr_bills_match(invoices):
    """Each PDF's QR code (PDFium + zxing-cpp) is a Swiss QR-bill for the invoice's amount
    and reference, to the demo QR-IBAN."""
    pdfium = pytest.importorskip("pypdfium2")
    zxingcpp = pytest.importorskip("zxingcpp")
    for invoice in invoices:
        pages = pdfium.PdfDocument(bytes(invoice.documents.get(kind="invoice").pdf))
        image = pages[len(pages) - 1].render(scale=2).to_pil()
        (code,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        payload = code.text.split("\r\n")
        assert payload[:4] == ["SPC", "0200", "1", "CH4431999123000889012"]
        assert (payload[18], payload[19]) == (f"{invoice.total:.2f}", "CHF")
        assert (payload[27], payload[28]) == ("QRR", invoice.reference)
