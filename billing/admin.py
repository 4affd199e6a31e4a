"""Back-office billing: invoices (issue, download, cancel), payments, tariffs, payers and the
billing settings. Every write goes through the billing services, like the API's."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from atmr.admin_scoping import CompanyScopedAdmin, company_staff, is_company_staff, staff_company_id
from atmr.exceptions import DomainError
from billing import invoicing, payments, services
from billing.models import (
    BillingSettings,
    ClientBilling,
    Invoice,
    InvoiceLine,
    Payer,
    Payment,
    PaymentImport,
    Tariff,
    TariffOverride,
)
from billing.references import iban_clean


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


_LINE_FIELDS = ("day", "patient", "description", "distance_km", "supplements", "amount", "active")
_INVOICE_FIELDS = (
    "number",
    "status",
    "payer",
    "month",
    "reference",
    "issue_date",
    "due_date",
    "total",
    "fees",
    "paid",
    "payment_flag",
    "reminder_level",
    "credit_note_number",
    "cancel_reason",
    "pdf_link",
)


class InvoiceLineInline(_ReadOnlyInline):
    model = InvoiceLine
    fields = _LINE_FIELDS
    readonly_fields = _LINE_FIELDS


@admin.register(Invoice)
class InvoiceAdmin(CompanyScopedAdmin):
    list_display = [
        "__str__",
        "payer",
        "month",
        "status",
        "total",
        "paid",
        "due_date",
        "reminder_level",
        "pdf_link",
    ]
    list_filter = ["status", "month", "payment_flag"]
    search_fields = ["number", "reference", "payer__name"]
    list_select_related = ["payer"]
    inlines = [InvoiceLineInline]
    actions = ["issue_invoices", "download_pdfs", "cancel_invoices"]
    readonly_fields = _INVOICE_FIELDS
    fields = _INVOICE_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # drafts come from generating a month (API: POST /api/invoices/generate)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # an invoice is cancelled (with a credit note), never deleted

    @admin.display(description="PDF")
    def pdf_link(self, obj: Invoice) -> str:
        if obj.status == Invoice.Status.DRAFT:
            return "—"
        url = reverse("admin:billing_invoice_pdf", args=[obj.pk])
        return format_html('<a href="{}">PDF</a>', url)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<uuid:object_id>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="billing_invoice_pdf",
            )
        ]
        return own + super().get_urls()

    def pdf_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice = self.get_queryset(request).filter(pk=object_id).first()
        if invoice is None or not self.has_view_permission(request, invoice):
            raise Http404
        document = invoicing.invoice_pdf(invoice=invoice)
        if document is None:
            raise Http404
        response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
        return response

    def _apply(self, request: HttpRequest, queryset: QuerySet[Invoice], change: Any) -> None:
        done, failed = 0, []
        for invoice in queryset.order_by("created_at"):
            try:
                change(invoice)
                done += 1
            except DomainError as exc:
                failed.append(f"{invoice}: {exc.detail}")
        if done:
            self.message_user(request, f"{done} invoice(s) updated.", messages.SUCCESS)
        for line in failed[:20]:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Issue the selected drafts (number, reference, PDF)")
    def issue_invoices(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._apply(request, queryset, lambda inv: invoicing.invoice_issue(invoice=inv))

    @admin.action(description="Cancel the selected invoices (issued ones get a credit note)")
    def cancel_invoices(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._apply(
            request,
            queryset,
            lambda inv: invoicing.invoice_cancel(invoice=inv, reason="Cancelled in the admin"),
        )

    @admin.action(description="Download the selected invoices' PDFs (one ZIP)")
    def download_pdfs(
        self, request: HttpRequest, queryset: QuerySet[Invoice]
    ) -> HttpResponse | None:
        buffer = io.BytesIO()
        count = 0
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for invoice in queryset.exclude(status=Invoice.Status.DRAFT):
                document = invoicing.invoice_pdf(invoice=invoice)
                if document is not None:
                    archive.writestr(f"{invoice.number}.pdf", bytes(document.pdf))
                    count += 1
        if not count:
            self.message_user(request, "Drafts have no PDF yet: issue them.", messages.WARNING)
            return None
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="invoices.zip"'
        return response


class PaymentAdminForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = ["invoice", "amount", "received_on", "note"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        invoice = data.get("invoice")
        if not invoice:
            self.add_error("invoice", "Choose the invoice paid.")
        elif invoice.status not in payments.PAYABLE:
            self.add_error(
                "invoice", f"A {invoice.get_status_display().lower()} invoice takes no payment."
            )
        amount = data.get("amount")
        if amount is not None and amount <= 0:
            self.add_error("amount", "A payment is more than zero.")
        return data


@admin.register(Payment)
class PaymentAdmin(CompanyScopedAdmin):
    form = PaymentAdminForm
    list_display = ["received_on", "amount", "currency", "invoice", "reference", "source", "flag"]
    list_filter = ["source", "flag"]
    search_fields = ["reference", "debtor_name", "invoice__number"]
    list_select_related = ["invoice"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        data = form.cleaned_data
        invoice = data["invoice"]
        try:
            saved = payments.payment_record(
                company=invoice.company,
                invoice=invoice,
                amount=data["amount"],
                received_on=data["received_on"],
                note=data.get("note", ""),
            )
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            raise
        obj.pk = saved.pk


@admin.register(PaymentImport)
class PaymentImportAdmin(CompanyScopedAdmin):
    list_display = ["created_at", "message_id", "filename", "entries", "matched", "duplicates"]
    readonly_fields = ["message_id", "filename", "entries", "matched", "duplicates", "unknown"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # imports come through POST /api/payments/import

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class TariffOverrideInline(admin.TabularInline):
    """A payer's own prices, entered with a new tariff version (payers of the company only)."""

    model = TariffOverride
    extra = 0
    fields = ["payer", "flat_fare", "base_fare", "per_km", "minimum_fare"]

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and db_field.name == "payer" and not request.user.is_superuser:
            field.queryset = Payer.objects.filter(company_id=staff_company_id(request))
        return field

    def _allowed(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or is_company_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)


@admin.register(Tariff)
class TariffAdmin(CompanyScopedAdmin):
    list_display = ["valid_from", "base_fare", "per_km", "minimum_fare", "created_at"]
    inlines = [TariffOverrideInline]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # A version is never edited (trips were priced with it): add a new one.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        for override in formset.save(commit=False):
            override.company_id = form.instance.company_id
            if override.payer.company_id != override.company_id:
                raise Http404
            override.save()


@admin.register(Payer)
class PayerAdmin(CompanyScopedAdmin):
    list_display = ["name", "kind", "postal_code", "city", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name"]
    exclude = ["client"]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(ClientBilling)
class ClientBillingAdmin(CompanyScopedAdmin):
    """A client's default payer and cost guarantee."""

    list_display = ["client", "payer", "insurance_number", "guarantee_until"]
    list_select_related = ["client", "payer"]
    search_fields = ["client__last_name", "insurance_number"]


class BillingSettingsForm(forms.ModelForm):
    class Meta:
        model = BillingSettings
        fields = [
            "company",
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

    def clean_iban(self) -> str:
        value = self.cleaned_data.get("iban") or ""
        if not value:
            return value
        try:
            return iban_clean(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(BillingSettings)
class BillingSettingsAdmin(CompanyScopedAdmin):
    form = BillingSettingsForm
    list_display = ["company", "creditor_name", "iban", "payment_terms_days"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one row per company, made on first use (as below)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        staff = company_staff(request)
        if staff is not None and staff.company_id is not None:
            services.billing_settings_get(company_id=staff.company_id)
        return super().changelist_view(request, extra_context)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
