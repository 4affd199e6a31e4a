"""Render time of billing PDFs (invoice with the QR-bill payment part), no database.

    .venv/bin/python bench/billing_pdf_bench.py [--documents 100] [--trips 3000]

Renders ``--documents`` invoices sharing ``--trips`` lines (3,000 trips for 100 payers: 30
lines each, as in issue 14's bench), in this process, and prints the wall and CPU time per
document (median and p95) and in all. The first render (imports, font metrics) is left out.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from billing.pdf import PdfDocument, PdfLine, PdfParty, document_pdf_render  # noqa: E402
from billing.references import qr_reference_build  # noqa: E402


def _document(number: int, trips: int) -> PdfDocument:
    lines = tuple(
        PdfLine(
            day=date(2026, 10, 1) + timedelta(days=index % 31),
            description=f"Patient {number}-{index}: Bern, Spitalweg 3a → Inselspital, "
            "Freiburgstrasse 18" + (" (wheelchair, night)" if index % 3 == 0 else ""),
            km=Decimal("7.3") + index,
            amount=Decimal("64.50") + index,
        )
        for index in range(trips)
    )
    total = sum((line.amount for line in lines), Decimal(0))
    return PdfDocument(
        kind="invoice",
        number=f"2026-{number:06d}",
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1),
        creditor=PdfParty("Rettung Muster AG", "Bahnhofstrasse", "12", "8001", "Zürich"),
        creditor_iban="CH4431999123000889012",
        debtor=PdfParty(f"Payer {number}", "Spitalweg", str(number), "3000", "Bern"),
        lines=lines,
        total=total,
        amount_due=total,
        reference=qr_reference_build(f"2026{number:06d}"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--trips", type=int, default=3000)
    args = parser.parse_args()
    per_document = max(1, args.trips // args.documents)
    documents = [_document(number, per_document) for number in range(1, args.documents + 1)]
    document_pdf_render(replace(documents[0], number="warm-up"))
    walls, cpus, sizes = [], [], []
    started = time.perf_counter()
    for doc in documents:
        wall, cpu = time.perf_counter(), time.process_time()
        sizes.append(len(document_pdf_render(doc)))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    elapsed = time.perf_counter() - started

    def ms(values: list[float]) -> str:
        p95 = sorted(values)[int(len(values) * 0.95) - 1]
        return f"median {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"

    print(f"{args.documents} invoices x {per_document} lines: {elapsed:.2f} s in all")
    print(f"wall per document: {ms(walls)}")
    print(f"CPU per document:  {ms(cpus)}")
    print(f"PDF size: median {statistics.median(sizes) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
