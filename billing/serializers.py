"""Input validation and output shapes of the billing API. Money is a decimal string (CHF)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atmr.fields import CompanyObjectField
from billing.models import (
    BillingSettings,
    ClientBilling,
    Invoice,
    InvoiceLine,
    Payer,
    Payment,
    Tariff,
    TariffOverride,
    TripCharge,
)
from billing.payments import MAX_CAMT_BYTES

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_MONEY = Decimal("99999.99")


def parse_month(value: str) -> date:
    """`YYYY-MM` as the month's first day; ValidationError naming the format otherwise."""
    match = _MONTH.match(value or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise serializers.ValidationError("A month as YYYY-MM (2000 or later).")
    return date(int(match.group(1)), int(match.group(2)), 1)


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-12"})
class MonthField(serializers.Field):
    """A month as `YYYY-MM` (its first day inside)."""

    def to_internal_value(self, data: Any) -> date:
        if not isinstance(data, str):
            raise serializers.ValidationError("A month as YYYY-MM.")
        return parse_month(data)

    def to_representation(self, value: Any) -> str:
        return f"{value:%Y-%m}" if isinstance(value, date) else str(value)


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=9, decimal_places=2, min_value=Decimal("0"), max_value=MAX_MONEY, **kwargs
    )


# --- invoices -------------------------------------------------------------------------------
class PayerSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Payer
        fields = ["id", "kind", "name"]


class InvoiceLineOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "booking",
            "day",
            "patient",
            "description",
            "distance_km",
            "supplements",
            "amount",
        ]


class InvoiceOutputSerializer(serializers.ModelSerializer):
    payer = PayerSummarySerializer()
    month = MonthField()
    amount_due = serializers.DecimalField(max_digits=11, decimal_places=2)
    lines = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "status",
            "payer",
            "month",
            "total",
            "fees",
            "paid",
            "amount_due",
            "payment_flag",
            "reference",
            "issue_date",
            "due_date",
            "reminder_level",
            "credit_note_number",
            "cancel_reason",
            "lines",
            "created_at",
        ]

    @extend_schema_field(InvoiceLineOutputSerializer(many=True))
    def get_lines(self, invoice: Invoice) -> list[dict[str, Any]]:
        # A cancelled invoice still lists the lines it had (all inactive by then).
        lines = [
            line for line in invoice.lines.all() if line.active or invoice.status == "cancelled"
        ]
        return InvoiceLineOutputSerializer(lines, many=True).data  # type: ignore[return-value]


class InvoiceListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Invoice.Status.choices, required=False)
    month = MonthField(required=False, help_text="YYYY-MM")
    payer = serializers.UUIDField(required=False)


class InvoiceGenerateInputSerializer(serializers.Serializer):
    month = MonthField(help_text="YYYY-MM, not in the future (company time).")
    payer = CompanyObjectField(Payer, required=False)


class InvoiceCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


# --- payments -------------------------------------------------------------------------------
class PaymentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "amount",
            "currency",
            "received_on",
            "reference",
            "debtor_name",
            "source",
            "entry_id",
            "flag",
            "note",
            "created_at",
        ]


class PaymentCreateInputSerializer(serializers.Serializer):
    invoice = serializers.UUIDField(required=False)
    reference = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    amount = _money()
    received_on = serializers.DateField(required=False)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("invoice") and not attrs.get("reference"):
            raise serializers.ValidationError({"invoice": "Give the invoice or its reference."})
        if attrs["amount"] <= 0:
            raise serializers.ValidationError({"amount": "A payment is more than zero."})
        received = attrs.get("received_on")
        if received is not None and not date(2000, 1, 1) <= received <= date(2999, 12, 31):
            raise serializers.ValidationError({"received_on": "Out of range."})
        return attrs


class PaymentListQuerySerializer(serializers.Serializer):
    invoice = serializers.UUIDField(required=False)
    flag = serializers.ChoiceField(choices=Payment.Flag.choices, required=False)


class PaymentImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The bank's camt.054 XML (at most 10 MB).")

    def validate_file(self, value: Any) -> Any:
        if value.size > MAX_CAMT_BYTES:
            raise serializers.ValidationError("The file is over 10 MB.")
        return value


class UnknownEntrySerializer(serializers.Serializer):
    entry_id = serializers.CharField()
    reference = serializers.CharField()
    amount = serializers.CharField()
    currency = serializers.CharField()


class PaymentImportOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True, help_text="Null when nothing was new.")
    message_id = serializers.CharField()
    entries = serializers.IntegerField()
    matched = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Entries imported before: skipped.")
    flagged = PaymentOutputSerializer(many=True, help_text="Partial, over- or unmatched.")
    unknown = UnknownEntrySerializer(many=True, help_text="References no invoice has.")


# --- tariffs --------------------------------------------------------------------------------
class TariffOverrideSerializer(serializers.Serializer):
    payer = CompanyObjectField(Payer)
    flat_fare = _money(required=False, allow_null=True)
    base_fare = _money(required=False, allow_null=True)
    per_km = _money(required=False, allow_null=True)
    minimum_fare = _money(required=False, allow_null=True)


class TariffOverrideOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = TariffOverride
        fields = ["payer", "flat_fare", "base_fare", "per_km", "minimum_fare"]


_TARIFF_FIELDS = [
    "valid_from",
    "base_fare",
    "per_km",
    "minimum_fare",
    "wheelchair_supplement",
    "stretcher_supplement",
    "night_supplement",
    "weekend_supplement",
    "holiday_supplement",
    "waiting_free_minutes",
    "waiting_per_5_minutes",
    "late_cancel_fee",
    "no_show_fee",
]


class TariffInputSerializer(serializers.Serializer):
    valid_from = serializers.DateField()
    base_fare = _money()
    per_km = _money()
    minimum_fare = _money(required=False, default=Decimal("0"))
    wheelchair_supplement = _money(required=False, default=Decimal("0"))
    stretcher_supplement = _money(required=False, default=Decimal("0"))
    night_supplement = _money(required=False, default=Decimal("0"))
    weekend_supplement = _money(required=False, default=Decimal("0"))
    holiday_supplement = _money(required=False, default=Decimal("0"))
    waiting_free_minutes = serializers.IntegerField(
        min_value=0, max_value=600, required=False, default=10
    )
    waiting_per_5_minutes = _money(required=False, default=Decimal("0"))
    late_cancel_fee = _money(required=False, default=Decimal("0"))
    no_show_fee = _money(required=False, default=Decimal("0"))
    overrides = TariffOverrideSerializer(many=True, required=False)

    def validate_valid_from(self, value: date) -> date:
        if not date(2000, 1, 1) <= value <= date(2999, 12, 31):
            raise serializers.ValidationError("Out of range.")
        return value

    def validate_overrides(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > 500:
            raise serializers.ValidationError("At most 500 overrides.")
        payers = [item["payer"].pk for item in value]
        if len(set(payers)) != len(payers):
            raise serializers.ValidationError("One override per payer.")
        return value


class TariffOutputSerializer(serializers.ModelSerializer):
    overrides = TariffOverrideOutputSerializer(many=True)

    class Meta:
        model = Tariff
        fields = ["id", *_TARIFF_FIELDS, "overrides", "created_at"]


# --- payers and settings --------------------------------------------------------------------
class PayerInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[Payer.Kind.INSURER, Payer.Kind.INSTITUTION])
    name = serializers.CharField(max_length=70)
    street = serializers.CharField(max_length=70, required=False, allow_blank=True)
    house_number = serializers.CharField(max_length=16, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=16, required=False, allow_blank=True)
    city = serializers.CharField(max_length=35, required=False, allow_blank=True)
    country = serializers.RegexField(r"^[A-Z]{2}$", required=False)


class PayerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payer
        fields = [
            "id",
            "kind",
            "name",
            "client",
            "street",
            "house_number",
            "postal_code",
            "city",
            "country",
            "active",
        ]


_SETTINGS_FIELDS = [
    "creditor_name",
    "street",
    "house_number",
    "postal_code",
    "city",
    "country",
    "iban",
    "payment_terms_days",
    "reminder1_days",
    "reminder2_days",
    "reminder3_days",
    "reminder1_fee",
    "reminder2_fee",
    "reminder3_fee",
    "reminder_terms_days",
]


class BillingSettingsSerializer(serializers.ModelSerializer):
    """Output, and input of a PATCH (partial)."""

    country = serializers.RegexField(r"^[A-Z]{2}$", required=False)
    iban = serializers.CharField(max_length=42, required=False, allow_blank=True)
    payment_terms_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    reminder1_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    reminder2_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    reminder3_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    reminder_terms_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    reminder1_fee = _money(required=False)
    reminder2_fee = _money(required=False)
    reminder3_fee = _money(required=False)

    class Meta:
        model = BillingSettings
        fields = _SETTINGS_FIELDS

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        days = [
            attrs.get(f"reminder{n}_days", getattr(self.instance, f"reminder{n}_days", n))
            for n in (1, 2, 3)
        ]
        if not days[0] < days[1] < days[2]:
            raise serializers.ValidationError({"reminder2_days": "Each reminder comes later."})
        return attrs


class BookingChargeInputSerializer(serializers.Serializer):
    """Each key given is applied: `payer` (null: the client's default), `override_amount`
    with `override_reason` (null: back to the tariff's price), `waiting_minutes` (re-prices)."""

    payer = CompanyObjectField(Payer, required=False, allow_null=True)
    override_amount = _money(required=False, allow_null=True)
    override_reason = serializers.CharField(max_length=300, required=False, allow_blank=True)
    waiting_minutes = serializers.IntegerField(
        min_value=0,
        max_value=1440,
        required=False,
        allow_null=True,
        help_text="The office's waiting time (null: the phones', arrival to on board).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (
            attrs.get("override_amount") is not None
            and not attrs.get("override_reason", "").strip()
        ):
            raise serializers.ValidationError({"override_reason": "Say why the price changes."})
        return attrs


class ExportQuerySerializer(serializers.Serializer):
    month = MonthField(help_text="YYYY-MM: invoices of that month, payments received in it.")


class BreakdownItemSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="base_fare, distance, night, waiting, rounding, …")
    text = serializers.CharField()
    amount = serializers.CharField(help_text="Decimal string, CHF.")


class TripChargeOutputSerializer(serializers.ModelSerializer):
    breakdown = BreakdownItemSerializer(many=True)
    invoiced = serializers.SerializerMethodField()

    class Meta:
        model = TripCharge
        fields = [
            "booking",
            "payer",
            "kind",
            "tariff",
            "distance_km",
            "distance_estimated",
            "waiting_minutes",
            "waiting_entered",
            "computed",
            "breakdown",
            "override_amount",
            "override_reason",
            "amount",
            "priced_at",
            "invoiced",
        ]

    def get_invoiced(self, charge: TripCharge) -> bool:
        return charge.booking.invoice_lines.filter(active=True).exists()


class ClientBillingSerializer(serializers.ModelSerializer):
    """A client's default payer (null: the patient pays) and cost guarantee; PATCH input too."""

    payer = CompanyObjectField(Payer, required=False, allow_null=True)
    guarantee_trips = serializers.IntegerField(
        min_value=1, max_value=100_000, required=False, allow_null=True
    )

    class Meta:
        model = ClientBilling
        fields = [
            "payer",
            "insurance_number",
            "guarantee_number",
            "guarantee_from",
            "guarantee_until",
            "guarantee_trips",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        payer = attrs.get("payer")
        if payer is not None and payer.kind == Payer.Kind.PATIENT:
            raise serializers.ValidationError({"payer": "Choose an insurer or an institution."})
        for name in ("guarantee_from", "guarantee_until"):
            day = attrs.get(name)
            if day is not None and not date(2000, 1, 1) <= day <= date(2999, 12, 31):
                raise serializers.ValidationError({name: "Out of range."})
        return attrs
