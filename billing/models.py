"""Billing: the company's billing settings, tariffs, payers, a trip's frozen price, invoices,
their documents, payments and bank-file imports. Money is Decimal (CHF, 2 places)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from atmr.accounts.models import Company
from bookings.models import Booking, Client

ZERO = Decimal("0.00")


def _money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(
        max_digits=11,
        decimal_places=2,
        validators=[MinValueValidator(ZERO)],
        **kwargs,  # type: ignore[arg-type]  # DecimalField's own keywords, passed through
    )


class BillingSettings(models.Model):
    """The company as creditor on its invoices (the QR-bill's creditor part) and its dunning
    rules. One row per company; `billing_settings_get` creates it with these defaults.
    Also the row `invoice_generate` locks, so two generations of one company run one after
    the other."""

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, primary_key=True, related_name="billing"
    )
    creditor_name = models.CharField(max_length=70, blank=True)
    street = models.CharField(max_length=70, blank=True)
    house_number = models.CharField(max_length=16, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=35, blank=True)
    country = models.CharField(max_length=2, default="CH")
    iban = models.CharField(
        max_length=34, blank=True, help_text="IBAN or QR-IBAN (CH/LI), without spaces."
    )
    payment_terms_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    # Reminder N is issued this many days after the due date (each later than the one before).
    reminder1_days = models.PositiveSmallIntegerField(default=10)
    reminder2_days = models.PositiveSmallIntegerField(default=25)
    reminder3_days = models.PositiveSmallIntegerField(default=40)
    reminder1_fee = _money(default=ZERO)
    reminder2_fee = _money(default=Decimal("10.00"))
    reminder3_fee = _money(default=Decimal("20.00"))
    reminder_terms_days = models.PositiveSmallIntegerField(
        default=10, help_text="A reminder asks for payment within this many days."
    )

    class Meta:
        verbose_name = "billing settings"
        verbose_name_plural = "billing settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(reminder1_days__lt=models.F("reminder2_days"))
                & Q(reminder2_days__lt=models.F("reminder3_days")),
                name="billing_reminder_days_ordered",
                violation_error_message="Each reminder comes later than the one before.",
            ),
        ]

    def __str__(self) -> str:
        return f"Billing of {self.company_id}"

    def reminder_days(self, level: int) -> int:
        return int(getattr(self, f"reminder{level}_days"))

    def reminder_fee(self, level: int) -> Decimal:
        return Decimal(getattr(self, f"reminder{level}_fee"))


class Payer(models.Model):
    """Who pays a trip: a patient (one payer per client, made on demand), an insurer or an
    institution (hospital, care home)."""

    class Kind(models.TextChoices):
        PATIENT = "patient", "Patient"
        INSURER = "insurer", "Insurer"
        INSTITUTION = "institution", "Institution"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="payers")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    client = models.OneToOneField(
        Client,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="own_payer",
        help_text="The patient, for a patient payer.",
    )
    name = models.CharField(max_length=70)
    street = models.CharField(max_length=70, blank=True)
    house_number = models.CharField(max_length=16, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=35, blank=True)
    country = models.CharField(max_length=2, default="CH")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="patient", client__isnull=False)
                | (~Q(kind="patient") & Q(client__isnull=True)),
                name="payer_patient_has_client",
                violation_error_message="A patient payer is a client; others are not.",
            ),
        ]
        indexes = [
            # The payer picker and GET /api/invoices?payer= within one company.
            models.Index(fields=["company", "kind", "name"], name="payer_company_kind"),
        ]

    def __str__(self) -> str:
        return self.name


class ClientBilling(models.Model):
    """A client's default payer (none: the patient pays) and the insurer's cost guarantee."""

    client = models.OneToOneField(
        Client, on_delete=models.CASCADE, primary_key=True, related_name="billing"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    payer = models.ForeignKey(
        Payer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: the patient pays.",
    )
    insurance_number = models.CharField(max_length=40, blank=True)
    guarantee_number = models.CharField(max_length=40, blank=True)
    guarantee_from = models.DateField(null=True, blank=True)
    guarantee_until = models.DateField(null=True, blank=True)
    guarantee_trips = models.PositiveIntegerField(
        null=True, blank=True, help_text="Trips the cost guarantee covers (empty: no cap)."
    )

    class Meta:
        verbose_name = "client billing"

    def __str__(self) -> str:
        return f"Billing of {self.client_id}"


class Tariff(models.Model):
    """One version of a company's prices, in force from `valid_from` (a local day) until the
    next version's. A version in use is never edited: a change is a new version."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="tariffs")
    valid_from = models.DateField()
    base_fare = _money()
    per_km = _money()
    minimum_fare = _money(default=ZERO)
    wheelchair_supplement = _money(default=ZERO)
    stretcher_supplement = _money(default=ZERO)
    night_supplement = _money(default=ZERO, help_text="Pick-up 20:00–06:00, local time.")
    weekend_supplement = _money(default=ZERO)
    holiday_supplement = _money(default=ZERO, help_text="Public holiday of the canton.")
    waiting_free_minutes = models.PositiveSmallIntegerField(default=10)
    waiting_per_5_minutes = _money(default=ZERO, help_text="Per started 5 minutes beyond.")
    late_cancel_fee = _money(default=ZERO)
    no_show_fee = _money(default=ZERO)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-valid_from"]
        constraints = [
            # Also the index of the version lookup (company, latest valid_from <= day).
            models.UniqueConstraint(
                fields=["company", "valid_from"],
                name="tariff_company_valid_from",
                violation_error_message="The company has a tariff from this day already.",
            ),
        ]

    def __str__(self) -> str:
        return f"Tariff from {self.valid_from:%Y-%m-%d}"


class TariffOverride(models.Model):
    """A payer's own prices in one tariff version (a care home's flat rate). Empty fields
    keep the tariff's."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="overrides")
    payer = models.ForeignKey(Payer, on_delete=models.CASCADE, related_name="overrides")
    flat_fare = _money(null=True, blank=True, help_text="One price per trip, all included.")
    base_fare = _money(null=True, blank=True)
    per_km = _money(null=True, blank=True)
    minimum_fare = _money(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "tariff", "payer"],
                name="tariff_override_one_per_payer",
                violation_error_message="This payer has an override in this tariff already.",
            ),
        ]

    def __str__(self) -> str:
        return f"Override for {self.payer_id}"


class TripCharge(models.Model):
    """A booking's payer and frozen price: made when the trip completes, is cancelled late or
    is a no-show (or earlier, when the office chooses its payer). Kept apart from Booking so
    billing adds no columns to the hottest table."""

    class Kind(models.TextChoices):
        TRIP = "trip", "Trip"
        LATE_CANCEL = "late_cancel", "Late cancellation"
        NO_SHOW = "no_show", "No-show"

    booking = models.OneToOneField(
        Booking, on_delete=models.CASCADE, primary_key=True, related_name="charge"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    payer = models.ForeignKey(
        Payer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="charges",
        help_text="Empty until priced: then the client's default payer.",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TRIP)
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, null=True, blank=True)
    distance_km = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)
    distance_estimated = models.BooleanField(
        default=False, help_text="OSRM was unavailable: straight line × 1.3."
    )
    # From the phones (the driver's arrival at the pick-up to the patient on board, from the
    # booked pick-up time at the earliest), unless the office entered it (`waiting_entered`).
    waiting_minutes = models.PositiveIntegerField(default=0)
    waiting_entered = models.BooleanField(
        default=False, help_text="The office entered the waiting time: the phones' is not used."
    )
    computed = _money(null=True, blank=True, help_text="The tariff's price.")
    breakdown = models.JSONField(default=list, blank=True)
    override_amount = _money(null=True, blank=True)
    override_reason = models.CharField(max_length=300, blank=True)
    amount = _money(null=True, blank=True, help_text="What is billed: override or computed.")
    priced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(override_amount__isnull=True) | ~Q(override_reason=""),
                name="trip_charge_override_has_reason",
                violation_error_message="An overridden price needs its reason.",
            ),
        ]
        indexes = [
            # invoice_generate: a company's priced trips not yet invoiced.
            models.Index(fields=["company", "priced_at"], name="trip_charge_company"),
        ]

    def __str__(self) -> str:
        return f"Charge of {self.booking_id}"


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ISSUED = "issued", "Issued"
        OVERDUE = "overdue", "Overdue"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invoices")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="invoices")
    month = models.DateField(help_text="First day of the month billed.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(max_length=20, null=True, blank=True)
    reference = models.CharField(max_length=27, null=True, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    total = _money(default=ZERO)
    fees = _money(default=ZERO, help_text="Reminder fees so far.")
    paid = models.DecimalField(max_digits=11, decimal_places=2, default=ZERO)
    reminder_level = models.PositiveSmallIntegerField(default=0)
    reminded_on = models.DateField(null=True, blank=True)
    payment_flag = models.CharField(
        max_length=10,
        blank=True,
        choices=[("partial", "Partially paid"), ("overpaid", "Overpaid")],
    )
    credit_note_number = models.CharField(max_length=20, null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "number", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "number"],
                name="invoice_company_number",
                violation_error_message="This invoice number is taken.",
            ),
            models.UniqueConstraint(
                fields=["company", "reference"],
                name="invoice_company_reference",
                violation_error_message="This payment reference is taken.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "cancelled"]) | Q(number__isnull=False),
                name="invoice_issued_has_number",
                violation_error_message="An issued invoice has its number.",
            ),
            models.CheckConstraint(
                condition=Q(reminder_level__lte=3),
                name="invoice_reminder_level_range",
                violation_error_message="Reminders go up to level 3.",
            ),
        ]
        indexes = [
            # GET /api/invoices?status=&month=: a company's invoices by month and status.
            models.Index(fields=["company", "month", "status"], name="invoice_company_month"),
            # The daily reminders task (one company at a time): open invoices by due date.
            models.Index(fields=["company", "status", "due_date"], name="invoice_status_due"),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft {self.month:%Y-%m} {self.payer_id}"

    @property
    def amount_due(self) -> Decimal:
        return max(ZERO, self.total + self.fees - self.paid)


class InvoiceLine(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="invoice_lines")
    # False once its invoice is cancelled: the trip may then be invoiced again.
    active = models.BooleanField(default=True)
    day = models.DateField()
    patient = models.CharField(max_length=201)
    description = models.CharField(max_length=700)
    distance_km = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)
    supplements = models.CharField(max_length=200, blank=True)
    amount = _money()

    class Meta:
        ordering = ["day", "patient"]
        constraints = [
            # A trip is on at most one invoice that is not cancelled.
            models.UniqueConstraint(
                fields=["company", "booking"],
                condition=Q(active=True),
                name="invoice_line_one_active_per_booking",
                violation_error_message="This trip is on another invoice already.",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class InvoiceDocument(models.Model):
    """A rendered PDF: the invoice, a reminder (level 1–3) or the credit note. Never deleted."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        REMINDER = "reminder", "Reminder"
        CREDIT_NOTE = "credit_note", "Credit note"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    amount_due = models.DecimalField(max_digits=11, decimal_places=2)
    pdf = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "invoice", "kind", "level"],
                name="invoice_document_once",
                nulls_distinct=False,
                violation_error_message="This document exists already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.invoice_id}"


class NumberCounter(models.Model):
    """The last number given per company, year and series; locked FOR UPDATE while issuing,
    so numbers are gapless (a rolled-back issue rolls its number back too)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    series = models.CharField(max_length=12)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "year", "series"], name="number_counter_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.series} {self.year}: {self.last}"


class PaymentImport(models.Model):
    """One camt.054 file as imported: what it matched and what it could not."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=100)
    filename = models.CharField(max_length=200, blank=True)
    entries = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    unknown = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.message_id


class Payment(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", "By hand"
        CAMT = "camt", "Bank file (camt.054)"

    class Flag(models.TextChoices):
        NONE = "", "Exact"
        PARTIAL = "partial", "Partial payment"
        OVERPAID = "overpaid", "Overpayment"
        UNMATCHED = "unmatched", "Unknown reference"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="payments")
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    amount = models.DecimalField(
        max_digits=11, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(max_length=3, default="CHF")
    received_on = models.DateField()
    reference = models.CharField(max_length=35, blank=True)
    debtor_name = models.CharField(max_length=140, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    entry_id = models.CharField(
        max_length=100, null=True, blank=True, help_text="The bank's id of a camt.054 entry."
    )
    payment_import = models.ForeignKey(
        PaymentImport, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    flag = models.CharField(max_length=10, choices=Flag.choices, blank=True, default="")
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_on", "-created_at"]
        constraints = [
            # Importing the same bank file twice books each entry once.
            models.UniqueConstraint(
                fields=["company", "entry_id"],
                name="payment_entry_once",
                violation_error_message="This bank entry is imported already.",
            ),
        ]
        indexes = [
            # GET /api/payments: a company's payments, newest first.
            models.Index(fields=["company", "received_on"], name="payment_company_day"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} {self.received_on:%Y-%m-%d}"
