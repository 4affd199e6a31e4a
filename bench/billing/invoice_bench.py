"""Billing benchmark: invoicing a month of 3,000 trips for 100 payers, PDFs included.

    .venv/bin/python bench/billing/invoice_bench.py [--trips 3000] [--payers 100] [--repeat 3]

Builds a company with a tariff, complete billing settings (a QR-IBAN) and `--payers` payers:
60 % patients who pay themselves, the rest insurers and care homes with several patients
each, then `--trips` completed trips in October 2026, priced as the completion hook prices
them (same tariff arithmetic, straight-line distance). Times, from no invoices, generating the
month's drafts (`invoice_generate`) and issuing every draft (`invoices_issue`: number and
reference per draft in its own transaction, then the PDFs with their QR-bills rendered on
`--workers` processes). Each repeat cancels nothing: it deletes the bench's
invoices and starts again. Uses DATABASE_URL when set (PostgreSQL), otherwise a throw-away
SQLite file under bench/. The target is < 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent.parent
# Run as a script, bench/billing would come first on the path: keep only the project root.
sys.path[:] = [
    p for p in sys.path if Path(p or ".").resolve() not in (ROOT / "bench", ROOT / "bench/billing")
]
sys.path.insert(0, str(ROOT))

from bench.django_env import django_setup  # noqa: E402

django_setup(".billing_bench.sqlite3")

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from atmr.accounts.models import Company  # noqa: E402
from billing import invoicing  # noqa: E402
from billing.models import (  # noqa: E402
    BillingSettings,
    ClientBilling,
    Invoice,
    InvoiceDocument,
    InvoiceLine,
    NumberCounter,
    Payer,
    Tariff,
    TripCharge,
)
from billing.pricing import TripFacts, price_compute  # noqa: E402
from billing.services import prices_with_override  # noqa: E402
from bookings.models import Booking, Client  # noqa: E402
from dispatch.engine.geo import Location  # noqa: E402
from dispatch.engine.straight_line import road_distance_m  # noqa: E402

TZ = ZoneInfo("Europe/Zurich")
NAME = "Billing bench"
MONTH = date(2026, 10, 1)
QR_IBAN = "CH4431999123000889012"


def _company() -> Company:
    old = Company.objects.filter(name=NAME).first()
    if old is not None:
        with transaction.atomic():
            InvoiceDocument.objects.filter(company=old).delete()
            InvoiceLine.objects.filter(company=old).delete()
            Invoice.objects.filter(company=old).delete()
            TripCharge.objects.filter(company=old).delete()
            Booking.objects.filter(company=old).delete()
            ClientBilling.objects.filter(company=old).delete()
            Payer.objects.filter(company=old).delete()
            Client.objects.filter(company=old).delete()
            old.delete()
    company = Company.objects.create(name=NAME, lat=46.52, lon=6.63)
    BillingSettings.objects.create(
        company=company,
        creditor_name=NAME,
        street="Avenue de la Gare",
        house_number="10",
        postal_code="1003",
        city="Lausanne",
        iban=QR_IBAN,
    )
    return company


def build(trips: int, payers: int, seed: int = 14) -> Company:
    company = _company()
    tariff = Tariff.objects.create(
        company=company,
        valid_from=date(2026, 1, 1),
        base_fare=Decimal("25.00"),
        per_km=Decimal("2.40"),
        minimum_fare=Decimal("35.00"),
        wheelchair_supplement=Decimal("15.00"),
        night_supplement=Decimal("20.00"),
        weekend_supplement=Decimal("10.00"),
        holiday_supplement=Decimal("15.00"),
    )
    rng = random.Random(seed)
    patients = int(payers * 0.6)
    institutions = payers - patients
    clients_total = patients + institutions * 5
    clients = Client.objects.bulk_create(
        Client(
            company=company,
            first_name=f"P{i}",
            last_name=f"Bench{i:04d}",
            address=f"Rue du Lac {i % 90 + 1}, 1007 Lausanne",
            lat=46.5 + rng.random() * 0.1,
            lon=6.55 + rng.random() * 0.15,
            mobility="wheelchair" if i % 6 == 0 else "walks",
        )
        for i in range(clients_total)
    )
    paying = Payer.objects.bulk_create(
        [
            Payer(
                company=company,
                kind="patient",
                client=c,
                name=f"{c.first_name} {c.last_name}",
                street="Rue du Lac",
                house_number=str(i % 90 + 1),
                postal_code="1007",
                city="Lausanne",
            )
            for i, c in enumerate(clients[:patients])
        ]
        + [
            Payer(
                company=company,
                kind="insurer" if i % 2 else "institution",
                name=f"Payer {i:03d}",
                street="Rue du Bugnon",
                house_number=str(i + 1),
                postal_code="1011",
                city="Lausanne",
            )
            for i in range(institutions)
        ]
    )
    payer_of = {c.pk: paying[i] for i, c in enumerate(clients[:patients])}
    for n, client in enumerate(clients[patients:]):
        payer_of[client.pk] = paying[patients + n // 5]
    ClientBilling.objects.bulk_create(
        ClientBilling(client=c, company=company, payer=payer_of[c.pk]) for c in clients[patients:]
    )
    bookings = []
    for n in range(trips):
        client = clients[n % clients_total]
        assert client.lat is not None and client.lon is not None  # every bench client has both
        day = MONTH + timedelta(days=rng.randrange(31))
        at = datetime(day.year, day.month, day.day, 6 + rng.randrange(15), 15, tzinfo=TZ)
        bookings.append(
            Booking(
                company=company,
                client=client,
                pickup_address=client.address,
                pickup_lat=client.lat,
                pickup_lon=client.lon,
                dropoff_address="CHUV, Rue du Bugnon 46, 1011 Lausanne",
                dropoff_lat=46.525,
                dropoff_lon=6.642,
                scheduled_at=at,
                pickup_earliest=at - timedelta(minutes=10),
                pickup_latest=at + timedelta(minutes=15),
                mobility=client.mobility,
                status="completed",
            )
        )
    Booking.objects.bulk_create(bookings, batch_size=1000)
    prices = prices_with_override(tariff, None)
    now = timezone.now()
    charges = []
    for booking in bookings:
        metres = road_distance_m(
            Location(booking.pickup_lat, booking.pickup_lon),
            Location(booking.dropoff_lat, booking.dropoff_lon),
        )
        km = (Decimal(metres) / 1000).quantize(Decimal("0.1"))
        facts = TripFacts(
            kind="trip",
            pickup_local=booking.scheduled_at.astimezone(TZ),
            canton=company.canton,
            mobility=booking.mobility,
            distance_km=km,
        )
        amount, breakdown = price_compute(prices=prices, facts=facts)
        charges.append(
            TripCharge(
                booking=booking,
                company=company,
                payer=payer_of[booking.client_id],
                tariff=tariff,
                distance_km=km,
                distance_estimated=True,
                computed=amount,
                amount=amount,
                breakdown=breakdown,
                priced_at=now,
            )
        )
    TripCharge.objects.bulk_create(charges, batch_size=1000)
    return company


def _reset(company: Company) -> None:
    with transaction.atomic():
        InvoiceDocument.objects.filter(company=company).delete()
        InvoiceLine.objects.filter(company=company).delete()
        Invoice.objects.filter(company=company).delete()
        NumberCounter.objects.filter(company=company).delete()


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (the PDF workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def renderer() -> str:
    try:
        from billing import pdf  # noqa: F401
    except ModuleNotFoundError:
        return "missing"
    return "billing.pdf"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trips", type=int, default=3000)
    parser.add_argument("--payers", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=1, help="Processes rendering the PDFs (default 1)."
    )
    args = parser.parse_args(argv)
    if renderer() == "missing":
        print("billing/pdf.py is missing: nothing to bench without the PDF renderer.")
        return 2
    call_command("migrate", verbosity=0)
    company = build(args.trips, args.payers)
    generate, issue, total, cpu, pages = [], [], [], [], 0
    invoices: list[Invoice] = []
    for _ in range(args.repeat):
        _reset(company)
        start, start_cpu = time.perf_counter(), cpu_seconds()
        invoices = invoicing.invoice_generate(company=company, month=MONTH)
        middle = time.perf_counter()
        invoicing.invoices_issue(invoices=invoices, workers=args.workers)
        end = time.perf_counter()
        generate.append(middle - start)
        issue.append(end - middle)
        total.append(end - start)
        cpu.append(cpu_seconds() - start_cpu)
    lines = InvoiceLine.objects.filter(company=company).count()
    pages = sum(len(bytes(d.pdf)) for d in InvoiceDocument.objects.filter(company=company))
    db = os.environ["DATABASE_URL"].split(":", 1)[0]
    print(f"{len(invoices)} invoices, {lines} lines, {pages / 1e6:.1f} MB of PDF ({db})")
    print(f"  generate drafts: median {statistics.median(generate):.2f} s")
    print(f"  issue + PDFs:    median {statistics.median(issue):.2f} s")
    print(f"  total:           median {statistics.median(total):.2f} s, max {max(total):.2f} s")
    print(
        f"  CPU (this process and the PDF workers): median {statistics.median(cpu):.2f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    ok = max(total) < 10.0
    print("  target < 10 s:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
