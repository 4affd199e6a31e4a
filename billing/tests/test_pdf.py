"""The billing PDF, read back as a person and a bank's app would: PDFium renders the pages,
zxing-cpp decodes the QR code, and the Swiss QR-bill payload is checked field by field."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
import zxingcpp
from svglib.svglib import Svg2RlgShapeConverter

from billing.pdf import PdfDocument, PdfLine, PdfParty, document_pdf_render

QR_IBAN = "CH4431999123000889012"
IBAN = "CH9300762011623852957"
QRR = "210000000003139471430009017"
SCOR = "RF18539007547034"
POINTS_PER_MM = 72 / 25.4
PAYMENT_PART_TOP = 105 * POINTS_PER_MM  # from the page's foot, in points

CREDITOR = PdfParty("Rettung Muster AG", "Bahnhofstrasse", "12", "8001", "Zürich")
DEBTOR = PdfParty("Hans Müller", "Spitalweg", "3a", "3000", "Bern")


def _lines(count: int) -> tuple[PdfLine, ...]:
    return tuple(
        PdfLine(
            day=date(2026, 11, 1) + timedelta(days=index % 30),
            description=f"Trip {index}: Bern, Spitalweg 3a → Inselspital"
            + (", wheelchair, night supplement, waiting 15 min" * (index % 4 == 0)),
            km=Decimal("12.4") if index % 5 else None,
            amount=Decimal("48.50") + index,
        )
        for index in range(count)
    )


def _document(count: int = 3, **changes: object) -> PdfDocument:
    lines = _lines(count)
    total = sum((line.amount for line in lines), Decimal(0))
    doc = PdfDocument(
        kind="invoice",
        number="2026-000123",
        issue_date=date(2026, 11, 30),
        due_date=date(2026, 12, 30),
        creditor=CREDITOR,
        creditor_iban=QR_IBAN,
        debtor=DEBTOR,
        lines=lines,
        total=total,
        amount_due=total,
        reference=QRR,
    )
    return replace(doc, **changes)  # type: ignore[arg-type]


def _pages(pdf: bytes) -> pdfium.PdfDocument:
    return pdfium.PdfDocument(pdf)


def _text(page: pdfium.PdfPage, *, bottom: float = 0, top: float | None = None) -> str:
    width, height = page.get_size()
    return page.get_textpage().get_text_bounded(0, bottom, width, height if top is None else top)


def _qr_codes(page: pdfium.PdfPage) -> list[zxingcpp.Barcode]:
    image = page.render(scale=2).to_pil()
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def _payload(pdf: bytes) -> list[str]:
    """The QR-bill payload of the last page, split into its lines (Swiss IG 4.3)."""
    pages = _pages(pdf)
    codes = _qr_codes(pages[len(pages) - 1])
    assert len(codes) == 1
    return codes[0].text.split("\r\n")


def test_invoice_qr_code_decodes_to_the_swiss_qr_bill_of_the_document():
    doc = _document(3)
    fields = _payload(document_pdf_render(doc))

    assert fields[:4] == ["SPC", "0200", "1", QR_IBAN]
    assert fields[4:11] == [
        "S",
        "Rettung Muster AG",
        "Bahnhofstrasse",
        "12",
        "8001",
        "Zürich",
        "CH",
    ]
    assert fields[11:18] == [""] * 7  # ultimate creditor: reserved, empty
    assert fields[18:20] == [f"{doc.amount_due:.2f}", "CHF"]
    assert doc.amount_due == Decimal("148.50")
    assert fields[20:27] == ["S", "Hans Müller", "Spitalweg", "3a", "3000", "Bern", "CH"]
    assert fields[27:29] == ["QRR", QRR]
    assert fields[29] == "Invoice 2026-000123"
    assert fields[30] == "EPD"


def test_ordinary_iban_carries_a_creditor_reference():
    fields = _payload(document_pdf_render(_document(2, creditor_iban=IBAN, reference=SCOR)))
    assert fields[3] == IBAN
    assert fields[27:29] == ["SCOR", SCOR]


def test_spaced_reference_and_iban_are_compacted():
    doc = _document(
        1, creditor_iban="CH44 3199 9123 0008 8901 2", reference="21 00000 00003 13947 14300 09017"
    )
    fields = _payload(document_pdf_render(doc))
    assert fields[3] == QR_IBAN and fields[28] == QRR


def test_reminder_asks_for_the_amount_due_with_its_fee():
    doc = _document(
        2,
        kind="reminder",
        reminder_level=2,
        fee=Decimal("20.00"),
        amount_due=Decimal("98.00") + Decimal("20.00"),
        note="Please pay within 10 days.",
    )
    pdf = document_pdf_render(doc)

    fields = _payload(pdf)
    assert fields[18] == "118.00"
    assert fields[29] == "Reminder 2, invoice 2026-000123"
    text = _text(_pages(pdf)[0])
    assert "Reminder 2, invoice 2026-000123" in text
    assert "Reminder fee (level 2)" in text and "20.00" in text
    assert "Amount due CHF" in text and "118.00" in text
    assert "Already paid" not in text
    assert "Please pay within 10 days." in text


def test_invoice_page_names_the_parties_dates_lines_and_total():
    doc = _document(3, note="Thank you.")
    page = _pages(document_pdf_render(doc))[0]
    text = _text(page, bottom=PAYMENT_PART_TOP)

    for expected in (
        "Rettung Muster AG",
        "Bahnhofstrasse 12",
        "Hans Müller",
        "Spitalweg 3a",
        "3000 Bern",
        "Invoice 2026-000123",
        "30.11.2026",
        "30.12.2026",
        "21 00000 00003 13947 14300 09017",
        "Trip 1: Bern, Spitalweg 3a → Inselspital",
        "12.4",
        "49.50",
        "Total CHF",
        "148.50",
        "Thank you.",
    ):
        assert expected in text, expected


def test_partly_paid_reminder_shows_what_was_paid_and_what_is_due():
    doc = _document(
        2,
        kind="reminder",
        reminder_level=1,
        fee=Decimal("10.00"),
        amount_due=Decimal("68.00"),  # 98.00 + 10.00 fee - 40.00 paid
    )
    pdf = document_pdf_render(doc)

    assert doc.total == Decimal("98.00")
    text = _text(_pages(pdf)[0], bottom=PAYMENT_PART_TOP)
    assert "Reminder fee (level 1)" in text and "10.00" in text
    assert "Already paid" in text and "-40.00" in text
    assert "Amount due CHF" in text and "68.00" in text
    assert _payload(pdf)[18] == "68.00"


def test_credit_note_has_no_payment_part():
    doc = _document(2, kind="credit_note", due_date=None, amount_due=Decimal(0))
    pdf = document_pdf_render(doc)
    pages = _pages(pdf)

    assert len(pages) == 1
    assert _qr_codes(pages[0]) == []
    text = _text(pages[0])
    assert "Credit note 2026-000123" in text
    assert "Total credited CHF" in text
    assert "Payment part" not in text and "Receipt" not in text


def test_paid_invoice_has_no_payment_part():
    pdf = document_pdf_render(_document(1, amount_due=Decimal("0.00")))
    assert "Payment part" not in _text(_pages(pdf)[0])


def test_many_lines_flow_over_pages_with_the_payment_part_on_the_last():
    doc = _document(120)
    pdf = document_pdf_render(doc)
    pages = _pages(pdf)
    count = len(pages)

    assert count >= 3
    text = "".join(_text(pages[index]) for index in range(count))
    for index in range(120):  # every line is there, once
        assert text.count(f"Trip {index}: ") == 1, index
    for index in range(count - 1):
        assert _qr_codes(pages[index]) == []
        assert f"Page {index + 1} of {count}" in _text(pages[index])
    last = pages[count - 1]
    (code,) = _qr_codes(last)
    scale = 2  # render scale: pixels per point
    assert code.position.top_left.y / scale > last.get_size()[1] - PAYMENT_PART_TOP
    assert code.text.split("\r\n")[18] == f"{doc.total:.2f}"


@pytest.mark.parametrize("count", [8, 12, 16, 20, 24, 30])
def test_lines_never_run_into_the_payment_part(count):
    """Around the counts where the lines fill the first page's room above the payment part,
    the payment part moves to a page of its own instead of overlapping them."""
    pages = _pages(document_pdf_render(_document(count)))
    last = pages[len(pages) - 1]
    foot = _text(last, top=PAYMENT_PART_TOP)
    assert "Payment part" in foot
    assert "Trip " not in foot
    assert "Total CHF" in "".join(_text(pages[index]) for index in range(len(pages)))


def test_debtor_without_address_leaves_the_payable_by_box_empty():
    doc = _document(1, debtor=PdfParty("Anna Beispiel", "", "", "", ""))
    fields = _payload(document_pdf_render(doc))
    assert fields[20:27] == [""] * 7
    assert fields[18] == f"{doc.amount_due:.2f}"


def test_characters_outside_the_qr_bill_set_are_left_out_of_the_payment_part():
    doc = _document(1, debtor=replace(DEBTOR, name="Zoë 🚑 Lüthi 中", street="Rue de l’Église"))
    fields = _payload(document_pdf_render(doc))
    assert fields[21:23] == ["Zoë Lüthi", "Rue de l'Église"]


def test_same_document_gives_the_same_bytes():
    doc = _document(5)
    assert document_pdf_render(doc) == document_pdf_render(doc)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reference": SCOR}, "QR-IBAN requires a QRR"),
        ({"creditor_iban": IBAN}, "only allowed for a QR-IBAN"),
        ({"reference": "210000000003139471430009018"}, "not valid"),
        ({"creditor_iban": "CH4431999123000889013"}, "IBAN is not valid"),
    ],
)
def test_inconsistent_payment_data_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        document_pdf_render(_document(1, **changes))


def test_payment_part_moves_to_a_page_of_its_own_when_the_lines_leave_no_room():
    pages = _pages(document_pdf_render(_document(12)))
    assert len(pages) == 2
    first, last = _text(pages[0]), _text(pages[1])
    assert "Trip 11: " in first and "Total CHF" in first and "Payment part" not in first
    assert "Trip " not in last and "Payment part" in last
    assert len(_qr_codes(pages[1])) == 1


def test_qr_code_takes_the_short_way_through_svglib(monkeypatch):
    """The QR path is read by ``_ShapeConverter``'s own parser (speed): if a qrbill or qrcode
    upgrade changed the path's shape, this fails instead of silently going slow."""
    generic: list[str] = []
    svglib_way = Svg2RlgShapeConverter.convertPath

    def spy(self, node):
        generic.append(node.get("d"))
        return svglib_way(self, node)

    monkeypatch.setattr(Svg2RlgShapeConverter, "convertPath", spy)
    document_pdf_render(_document(1))
    assert len(generic) == 2  # qrbill's two pairs of scissors
    assert all(d.count("M") < 10 for d in generic)
