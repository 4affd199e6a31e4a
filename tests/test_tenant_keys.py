"""Every company-owned table keeps `company` in its unique constraints and indexes.

A table sharded by company (Citus distributes on one column) can only enforce a unique key
that holds that column, and an index without it sends a query to every shard. This test walks
the models: a company-owned model (a foreign key to Company) fails when a unique constraint,
`unique_together`, unique field or `Meta.indexes` entry lacks its company field, unless the
exception is listed below with the reason. Not checked: the automatic single-column index of
each foreign key (it serves joins and cascades inside a shard) and primary keys (UUIDs; Citus
would need (company_id, id), the one known blocker, see the README's capacity model).
"""

from __future__ import annotations

from django.apps import apps
from django.db import models

# (model, constraint/index/field name) -> why it may lack the company.
ALLOWED = {
    # Global identities: a reference table under Citus, not sharded by company.
    ("accounts.User", "email"): "log-in is by e-mail, before anyone knows the company",
    ("drivers.Driver", "user"): "one profile per user account; users are global",
    ("places.Place", "place_global_name_unique"): "shared places (company NULL) are global",
    # Keys that imply the company through a company-owned parent: correct today, to widen to
    # (company, ...) before distributing; each is listed so that no new one slips in.
    ("drivers.RosterEntry", "roster_entry_once_per_weekday"): "(driver, weekday): debt",
    ("drivers.Shift", "shift_once_per_driver_day"): "(driver, date): debt",
    ("bookings.Booking", "booking_one_trip_per_occurrence"): "(standing order, ...): debt",
    ("bookings.Booking", "booking_driver_time"): "a driver's day: debt",
    ("bookings.Booking", "return_of"): "one return per outward trip: debt",
    ("dispatch.DispatchRun", "run_status_started"): "the stale-run sweep spans companies",
    ("dispatch.RunAssignment", "one_assignment_per_run_booking"): "(run, booking): debt",
    # Billing (merged alongside this test): keys through a company-owned parent, and the
    # reminders' sweep over every company's open invoices.
    ("billing.Invoice", "invoice_status_due"): "the daily reminders span companies",
    ("billing.InvoiceDocument", "invoice_document_once"): "(invoice, kind, level): debt",
    ("billing.InvoiceLine", "invoice_line_one_active_per_booking"): "(booking): debt",
    ("billing.Payer", "client"): "one patient payer per client: debt",
    ("billing.TariffOverride", "tariff_override_one_per_payer"): "(tariff, payer): debt",
}


def _company_field(model: type[models.Model]) -> str | None:
    for field in model._meta.fields:
        related = field.related_model if field.is_relation else None
        if related is not None and related._meta.label == "accounts.Company":
            return field.name
    return None


def _keys(model: type[models.Model]) -> list[tuple[str, tuple[str, ...]]]:
    keys: list[tuple[str, tuple[str, ...]]] = []
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            keys.append((constraint.name, tuple(constraint.fields)))
    for fields in model._meta.unique_together:
        keys.append(("unique_together " + ",".join(fields), tuple(fields)))
    for index in model._meta.indexes:
        keys.append((index.name, tuple(f.lstrip("-") for f in index.fields)))
    for field in model._meta.fields:
        if field.unique and not field.primary_key:
            keys.append((field.name, (field.name,)))
    return keys


def _violations() -> set[tuple[str, str]]:
    found = set()
    for model in apps.get_models():
        company = _company_field(model)
        if company is None:
            continue
        for name, fields in _keys(model):
            if company not in fields:
                found.add((model._meta.label, name))
    return found


def test_company_owned_keys_hold_the_company():
    unexplained = _violations() - set(ALLOWED)
    assert not unexplained, (
        "put the company field in these keys (or list them in ALLOWED with the reason): "
        f"{sorted(unexplained)}"
    )


def test_the_allow_list_has_no_stale_entries():
    assert set(ALLOWED) - _violations() == set()


def test_the_walk_sees_company_keys():
    # The positions' key holds the company; a model without the company FK is not walked.
    assert ("drivers.DriverLocation", "driver_location_once") not in _violations()
    assert ("drivers.Vehicle", "vehicle_plate_per_company") not in _violations()
    assert _company_field(apps.get_model("accounts", "Company")) is None
