"""PDF of an invoice, a reminder or a credit note, with the Swiss QR-bill payment part.

Pure functions over frozen dataclasses (no Django): the billing services fill a
``PdfDocument`` and store the bytes of ``document_pdf_render``.

The page is laid out with ReportLab's platypus (the lines table flows over as many pages as
it needs, its header repeated). The payment part is the `qrbill` package's SVG, converted
with svglib into a ReportLab drawing and placed at the bottom of the last page, as the
QR-bill standard asks (A6 landscape, 105 mm, at the foot of an A4 page); when the lines leave
no room for it there, it goes on a page of its own.

Speed: a month's invoices are rendered in one go (100 invoices for 3,000 trips within the
billing bench's 10 s), so styles are built once at import, the fonts are the PDF standard
Helvetica (nothing to load or embed), ReportLab's C accelerator (`rl-accel`) is installed,
line descriptions are wrapped without a Paragraph each, and the QR code goes from qrcode to
the PDF as ~700 merged rectangles read by one regular expression instead of ~2,000 module
squares parsed command by command (``_QrImage``, ``_ShapeConverter``).
`bench/billing_pdf_bench.py` measures it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal
from xml.sax.saxutils import escape

import qrcode
import qrcode.constants
import qrcode.image.svg
from qrbill import QRBill
from qrcode.compat.etree import ET
from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Drawing, Group, Path
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from svglib.svglib import Svg2RlgShapeConverter, SvgRenderer, load_svg_file

from billing.references import reference_is_valid

__all__ = ["PdfDocument", "PdfLine", "PdfParty", "document_pdf_render"]

Kind = Literal["invoice", "reminder", "credit_note"]


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
    """What the PDF shows. Amounts in CHF. ``amount_due`` is what the QR-bill asks for
    (for a reminder: the open amount plus ``fee``); ``reference`` is a QR reference with a
    QR-IBAN, a creditor reference (``RF…``) otherwise, without or with spaces."""

    kind: Kind
    number: str
    issue_date: date
    due_date: date | None
    creditor: PdfParty
    creditor_iban: str
    debtor: PdfParty
    lines: tuple[PdfLine, ...]
    total: Decimal
    amount_due: Decimal
    reference: str | None
    reminder_level: int | None = None
    fee: Decimal | None = None
    note: str = ""


PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 20 * mm
MARGIN_BOTTOM = 18 * mm
FIRST_FRAME_TOP = 95 * mm  # below the letterhead and the address window
LATER_FRAME_TOP = 22 * mm
# The payment part is 105 mm high at the foot of the page (106 mm with qrbill's scissors
# line); its flowable claims that much of the frame, above the frame's bottom margin.
PAYMENT_PART_HEIGHT = 106 * mm
# Swiss window envelope (SN 010 130, window on the right): where the debtor's address goes.
ADDRESS_LEFT = 118 * mm
ADDRESS_TOP = 52 * mm

_FONT = "Helvetica"
_BOLD = "Helvetica-Bold"
_BODY = ParagraphStyle("body", fontName=_FONT, fontSize=9, leading=11)
_TITLE = ParagraphStyle("title", fontName=_BOLD, fontSize=15, leading=19, spaceAfter=3 * mm)
_CELL_SIZE = 8.5
_NOTE = ParagraphStyle("note", parent=_BODY, spaceBefore=5 * mm)

_FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
_DESCRIPTION_WIDTH = _FRAME_WIDTH - (22 + 18 + 28) * mm
_COLUMNS = (22 * mm, _DESCRIPTION_WIDTH, 18 * mm, 28 * mm)  # date, description, km, amount
_CELL_PADDING = 3.0  # points, left plus right, of a lines table cell
_LINES_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, 0), _BOLD, _CELL_SIZE),
        ("FONT", (0, 1), (-1, -1), _FONT, _CELL_SIZE, 10),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#BBBBBB")),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PADDING / 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PADDING / 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
)
_TOTALS_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), _FONT, 9),
        ("FONT", (0, -1), (-1, -1), _BOLD, 10),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ("LEFTPADDING", (0, 0), (-1, -1), 1.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 1.5),
    ]
)
_TITLES: dict[str, str] = {"invoice": "Invoice", "credit_note": "Credit note"}


def document_pdf_render(doc: PdfDocument) -> bytes:
    """The A4 PDF of ``doc``. Invoices and reminders with an amount due carry the QR-bill.

    Raises ValueError when the QR-bill cannot be made: an invalid IBAN, a reference that
    does not suit the IBAN (a QR-IBAN needs a QR reference, an IBAN a creditor reference or
    none), a creditor address without postal code or city, an amount over 999'999'999.99.
    The output is deterministic (no creation time or random id), so the same document gives
    the same bytes.
    """
    payment_part = _payment_part(doc) if _has_payment_part(doc) else None
    buffer = io.BytesIO()
    template = _template(buffer, doc)
    story: list[Flowable] = [NextPageTemplate("later"), *_body(doc)]
    if payment_part is not None:
        story.append(_PaymentPart(payment_part))
    template.build(story, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()


def _has_payment_part(doc: PdfDocument) -> bool:
    return doc.kind in ("invoice", "reminder") and doc.amount_due > 0


def _label(doc: PdfDocument) -> str:
    """ "Invoice 2026-000123", "Credit note 2026-000124", "Reminder 2, invoice 2026-000123"."""
    if doc.kind == "reminder":
        return f"Reminder {doc.reminder_level or 1}, invoice {doc.number}"
    return f"{_TITLES[doc.kind]} {doc.number}"


# -- Page frame ------------------------------------------------------------------------------


def _template(buffer: io.BytesIO, doc: PdfDocument) -> BaseDocTemplate:
    def frame(top: float, name: str) -> Frame:
        height = PAGE_HEIGHT - top - MARGIN_BOTTOM
        return Frame(
            MARGIN_X, MARGIN_BOTTOM, _FRAME_WIDTH, height, 0, 0, 0, 0, id=name, showBoundary=0
        )

    template = BaseDocTemplate(
        buffer,
        pagesize=A4,
        title=_label(doc),
        author=doc.creditor.name,
        creator="ATMR",
        invariant=1,
        pageCompression=1,
    )
    template.addPageTemplates(
        [
            PageTemplate("first", [frame(FIRST_FRAME_TOP, "first")], onPage=_first_page(doc)),
            PageTemplate("later", [frame(LATER_FRAME_TOP, "later")], onPage=_later_page(doc)),
        ]
    )
    return template


def _first_page(doc: PdfDocument) -> Callable[[Canvas, BaseDocTemplate], None]:
    def draw(canvas: Canvas, _template: BaseDocTemplate) -> None:
        creditor = doc.creditor
        top = PAGE_HEIGHT - 18 * mm
        canvas.setFont(_BOLD, 14)
        canvas.drawString(MARGIN_X, top, creditor.name)
        canvas.setFont(_FONT, 9)
        for index, line in enumerate(_address_lines(creditor, with_name=False)):
            canvas.drawString(MARGIN_X, top - (5 + index * 4) * mm, line)
        canvas.setFont(_FONT, 10)
        y = PAGE_HEIGHT - ADDRESS_TOP
        for line in _address_lines(doc.debtor, with_name=True):
            canvas.drawString(ADDRESS_LEFT, y, line)
            y -= 4.5 * mm

    return draw


def _later_page(doc: PdfDocument) -> Callable[[Canvas, BaseDocTemplate], None]:
    def draw(canvas: Canvas, _template: BaseDocTemplate) -> None:
        canvas.setFont(_FONT, 8)
        canvas.drawString(MARGIN_X, PAGE_HEIGHT - 14 * mm, doc.creditor.name)
        canvas.drawRightString(PAGE_WIDTH - MARGIN_X, PAGE_HEIGHT - 14 * mm, _label(doc))
        canvas.line(MARGIN_X, PAGE_HEIGHT - 16 * mm, PAGE_WIDTH - MARGIN_X, PAGE_HEIGHT - 16 * mm)

    return draw


def _address_lines(party: PdfParty, *, with_name: bool) -> list[str]:
    street = " ".join(part for part in (party.street, party.house_number) if part)
    place = " ".join(part for part in (party.postal_code, party.city) if part)
    if party.country and party.country.upper() not in ("CH", ""):
        place = f"{party.country.upper()}-{place}"
    lines = [party.name] if with_name else []
    return [line for line in (*lines, street, place) if line]


class _NumberedCanvas(Canvas):
    """A canvas that holds its pages back until the end, to print "Page n of N"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        count = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(_FONT, 7.5)
            # At the top: the foot of the last page belongs to the payment part.
            self.drawRightString(
                PAGE_WIDTH - MARGIN_X, PAGE_HEIGHT - 10 * mm, f"Page {number} of {count}"
            )
            super().showPage()
        super().save()


# -- Body ------------------------------------------------------------------------------------


def _body(doc: PdfDocument) -> list[Flowable]:
    story: list[Flowable] = [
        Paragraph(escape(_label(doc)), _TITLE),
        _facts(doc),
        Spacer(1, 6 * mm),
    ]
    if doc.lines:
        story.append(_lines_table(doc.lines))
    story.append(_totals(doc))
    if doc.note:
        story.append(Paragraph(escape(doc.note).replace("\n", "<br/>"), _NOTE))
    return story


def _facts(doc: PdfDocument) -> Table:
    rows = [["Date", _day(doc.issue_date)]]
    if doc.due_date is not None and doc.kind != "credit_note":
        rows.append(["Payable by", _day(doc.due_date)])
    if doc.reference and doc.kind != "credit_note":
        rows.append(["Reference", _reference_spaced(doc.reference)])
    table = Table(rows, colWidths=(30 * mm, 80 * mm), hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), _FONT, 9),
                ("FONT", (0, 0), (0, -1), _BOLD, 9),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
            ]
        )
    )
    return table


def _lines_table(lines: tuple[PdfLine, ...]) -> Table:
    rows: list[list[str]] = [["Date", "Description", "km", "Amount CHF"]]
    limit = _DESCRIPTION_WIDTH - _CELL_PADDING
    for line in lines:
        # Wrapped by hand into a multi-line cell: a Paragraph per cell costs ten times more.
        text = " ".join(line.description.split())
        description = "\n".join(simpleSplit(text, _FONT, _CELL_SIZE, limit))
        km = "" if line.km is None else f"{line.km:.1f}"
        rows.append([_day(line.day), description, km, _money(line.amount)])
    return Table(rows, colWidths=_COLUMNS, repeatRows=1, style=_LINES_STYLE)


def _totals(doc: PdfDocument) -> Table:
    """Total; for a reminder its fee; what was paid already; the amount due (what the
    QR-bill asks for) whenever it is not simply the total."""
    if doc.kind == "credit_note":
        rows = [["Total credited CHF", _money(doc.total)]]
    else:
        rows = [["Total", _money(doc.total)]]
        fee = (doc.fee or Decimal(0)) if doc.kind == "reminder" else Decimal(0)
        if fee:
            rows.append([f"Reminder fee (level {doc.reminder_level or 1})", _money(fee)])
        paid = doc.total + fee - doc.amount_due
        if paid:
            rows.append(["Already paid", _money(-paid)])
        if len(rows) > 1:
            rows.append(["Amount due CHF", _money(doc.amount_due)])
        else:
            rows[0][0] = "Total CHF"
    table = Table(rows, colWidths=(60 * mm, 30 * mm), hAlign="RIGHT", style=_TOTALS_STYLE)
    table.spaceBefore = 4 * mm
    return table


def _day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", "'")


def _reference_spaced(reference: str) -> str:
    compact = "".join(reference.split()).upper()
    if compact.startswith("RF"):
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    # QR reference: 2 digits, then blocks of 5 (as printed on the payment part).
    return " ".join([compact[:2], *(compact[i : i + 5] for i in range(2, len(compact), 5))])


# -- Payment part ----------------------------------------------------------------------------


class _QrImage(qrcode.image.svg.SvgPathImage):
    """qrcode's SVG path image, drawn as merged rectangles.

    The library encodes the payload and picks the mask as usual; only the path differs: a
    rectangle per run of dark modules (spanning rows where a run repeats) instead of a square
    per module, which is the same picture with a fifth of the path commands for svglib and
    the PDF to process. Coordinates are module units, as in the stock drawer, which qrbill
    scales to 46 mm.
    """

    needs_drawrect = False

    def process(self) -> None:
        border = self.border
        rows = [tuple(bool(cell) for cell in row) for row in self.modules]
        subpaths: list[str] = []
        open_runs: dict[tuple[int, int], int] = {}  # (start, end) column span -> first row
        for row_index, row in enumerate([*rows, ()]):
            runs = set(_runs(row))
            for span in [span for span in open_runs if span not in runs]:
                top = open_runs.pop(span)
                start, end = span
                subpaths.append(
                    f"M{start + border},{top + border}"
                    f"h{end - start}v{row_index - top}h{start - end}z"
                )
            for span in runs:
                open_runs.setdefault(span, row_index)
        self.path = ET.Element(
            ET.QName("path"), d="".join(subpaths), id="qr-path", **self.QR_PATH_STYLE
        )
        self._img.append(self.path)


def _runs(row: tuple[bool, ...]) -> list[tuple[int, int]]:
    runs = []
    column, width = 0, len(row)
    while column < width:
        if row[column]:
            start = column
            while column < width and row[column]:
                column += 1
            runs.append((start, column))
        else:
            column += 1
    return runs


class _Bill(QRBill):
    def qr_image(self) -> _QrImage:
        # Same call as QRBill.qr_image (error correction M, no border) with our drawer.
        image: _QrImage = qrcode.make(
            self.qr_data(),
            image_factory=_QrImage,
            error_correction=qrcode.constants.ERROR_CORRECT_M,
            border=0,
        )
        return image


def _payment_part(doc: PdfDocument) -> Drawing:
    bill = _Bill(
        account=doc.creditor_iban.replace(" ", ""),
        creditor=_qr_address(doc.creditor),
        amount=f"{doc.amount_due:.2f}",
        currency="CHF",
        debtor=_qr_address(doc.debtor) if _is_complete(doc.debtor) else None,
        reference_number=_qr_reference(doc.reference),
        additional_information=_label(doc)[:140],
        language="en",
    )
    svg = io.StringIO()
    bill.as_svg(svg)
    return _svg_drawing(svg.getvalue().encode())


def _svg_drawing(svg: bytes) -> Drawing:
    """svglib's ``svg2rlg`` with our shape converter (``_ShapeConverter``)."""
    root = load_svg_file(io.BytesIO(svg))
    if root is None:  # only for an unreadable file; ours is made just above
        raise ValueError("The QR-bill payment part could not be drawn.")
    renderer = SvgRenderer("")
    renderer.shape_converter = _ShapeConverter("", renderer.attrConverter)
    drawing: Drawing = renderer.render(root)
    return drawing


# The QR code's path as ``_QrImage`` writes it: rectangles in whole module units.
_QR_PATH = re.compile(r"(?:M\d+,\d+h\d+v\d+h-\d+z)+")
_QR_RECT = re.compile(r"M(\d+),(\d+)h(\d+)v(\d+)")
_MOVE, _LINE, _CLOSE = 0, 1, 3  # ReportLab's Path operator codes


class _ShapeConverter(Svg2RlgShapeConverter):
    """svglib's converter, with a short way for the QR code's path.

    svglib parses a path command by command (half of its time on the payment part goes to
    the QR code's ~700 rectangles); the QR path is ours, in one known shape, so it is read
    with one regular expression into ReportLab's path. Styles and transforms still go
    through svglib; any other path takes svglib's own way.
    """

    def convertPath(self, node: Any) -> Any:
        d = node.get("d") or ""
        if not _QR_PATH.fullmatch(d):
            return super().convertPath(node)
        points: list[float] = []
        operators: list[int] = []
        for x, y, width, height in _QR_RECT.findall(d):
            left, top = int(x), int(y)
            right, bottom = left + int(width), top + int(height)
            points += (left, top, right, top, right, bottom, left, bottom)
            operators += (_MOVE, _LINE, _LINE, _LINE, _CLOSE)
        path = Path(points=points, operators=operators)
        self.applyStyleOnShape(path, node)
        group = Group()
        group.add(path)
        return group


def _qr_reference(reference: str | None) -> str | None:
    if not reference:
        return None
    compact = "".join(reference.split()).upper()
    if not reference_is_valid(compact):
        raise ValueError(f"The payment reference {reference!r} is not valid.")
    return compact


def _is_complete(party: PdfParty) -> bool:
    return bool(party.name.strip() and party.postal_code.strip() and party.city.strip())


def _qr_address(party: PdfParty) -> dict[str, str]:
    # The QR-bill's field limits (Swiss Implementation Guidelines 4.2.2).
    return {
        "name": _qr_text(party.name)[:70],
        "street": _qr_text(party.street)[:70],
        "house_num": _qr_text(party.house_number)[:16],
        "pcode": _qr_text(party.postal_code)[:16],
        "city": _qr_text(party.city)[:35],
        "country": (party.country or "CH").strip().upper(),
    }


# The QR-bill's character set (Swiss IG 4.1.1): printable Latin-1 and a few Latin Extended-A
# letters and the euro sign. Banks' apps refuse a code with anything else (an emoji in a
# patient's name), so such characters are left out of the payment part.
_QR_EXTRA = frozenset("ȘșȚțŒœŠšŽžŸ€")
_QR_PLAIN = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def _qr_text(value: str) -> str:
    kept = "".join(
        char
        for char in value.translate(_QR_PLAIN)
        if " " <= char <= "~" or "\xa0" <= char <= "ÿ" or char in _QR_EXTRA
    )
    return " ".join(kept.split())


class _PaymentPart(Flowable):
    """The payment part, drawn at the foot of the page it lands on, whatever the frame's
    cursor: it claims the height between the cursor and the page's foot, so it moves to a
    new page when the lines leave less than 105 mm there."""

    def __init__(self, drawing: Drawing) -> None:
        super().__init__()
        self.drawing = drawing

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return available_width, PAYMENT_PART_HEIGHT - MARGIN_BOTTOM

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:
        renderPDF.draw(self.drawing, canvas, 0, 0)
