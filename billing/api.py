"""The billing API (office roles only): invoices, payments, tariffs, payers, settings, CSV."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.http import Http404, HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from atmr.accounts.selectors import company_get
from atmr.api import AnyAccept, CompanyApiView, CompanyListApiView
from atmr.permissions import ADMIN, OFFICE
from atmr.schema import conflict
from billing import exports, invoicing, payments, selectors, services
from billing.models import (
    BillingSettings,
    ClientBilling,
    Invoice,
    Payer,
    Payment,
    Tariff,
    TripCharge,
)
from billing.serializers import (
    BillingSettingsSerializer,
    BookingChargeInputSerializer,
    ClientBillingSerializer,
    ExportQuerySerializer,
    InvoiceCancelInputSerializer,
    InvoiceGenerateInputSerializer,
    InvoiceListQuerySerializer,
    InvoiceOutputSerializer,
    PayerInputSerializer,
    PayerOutputSerializer,
    PaymentCreateInputSerializer,
    PaymentImportInputSerializer,
    PaymentImportOutputSerializer,
    PaymentListQuerySerializer,
    PaymentOutputSerializer,
    TariffInputSerializer,
    TariffOutputSerializer,
    TripChargeOutputSerializer,
)
from bookings.models import Booking, Client


# --- invoices -------------------------------------------------------------------------------
class _InvoiceApi(CompanyApiView):
    queryset = Invoice.objects.none()
    serializer_class = InvoiceOutputSerializer
    read_roles = OFFICE

    def get_queryset(self) -> QuerySet[Invoice]:
        return selectors.invoice_list(company_id=self.company_id)

    def get_invoice(self, invoice_id: UUID) -> Invoice:
        return self.get_scoped_object(self.get_queryset(), invoice_id)

    def reloaded(self, invoice: Invoice) -> Invoice:
        return self.get_invoice(invoice.pk)


class InvoiceListApi(CompanyListApiView, _InvoiceApi):
    filter_backends: list[type] = []

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        query = InvoiceListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        return selectors.invoice_list(
            company_id=self.company_id,
            status=params.get("status"),
            month=params.get("month"),
            payer_id=params.get("payer"),
        )

    @extend_schema(parameters=[InvoiceListQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """List invoices, newest month first, by status, month (YYYY-MM) or payer."""
        return super().get(request, *args, **kwargs)


class InvoiceGenerateApi(_InvoiceApi):
    pagination_class = None

    @extend_schema(
        request=InvoiceGenerateInputSerializer,
        responses={200: InvoiceOutputSerializer(many=True)},
    )
    def post(self, request: Request) -> Response:
        """Draft a month's invoices from its billable trips not yet invoiced (the changed ones)."""
        data = self.validated(InvoiceGenerateInputSerializer)
        company = company_get(company_id=self.company_id)
        invoices = invoicing.invoice_generate(
            company=company, month=data["month"], payer=data.get("payer")
        )
        fresh = selectors.invoice_list(company_id=self.company_id).filter(
            pk__in=[i.pk for i in invoices]
        )
        return Response(InvoiceOutputSerializer(fresh, many=True).data)


class InvoiceDetailApi(_InvoiceApi):
    def get(self, request: Request, invoice_id: UUID) -> Response:
        """One invoice with its lines."""
        return self.respond(self.get_invoice(invoice_id))


class InvoiceIssueApi(_InvoiceApi):
    @extend_schema(
        request=None,
        responses={
            200: InvoiceOutputSerializer,
            409: conflict("not a draft, no lines, or the billing settings are incomplete."),
        },
    )
    def post(self, request: Request, invoice_id: UUID) -> Response:
        """Issue a draft: its number, payment reference, due date and PDF."""
        invoice = invoicing.invoice_issue(invoice=self.get_invoice(invoice_id))
        return self.respond(self.reloaded(invoice))


class InvoiceCancelApi(_InvoiceApi):
    @extend_schema(
        request=InvoiceCancelInputSerializer,
        responses={200: InvoiceOutputSerializer, 409: conflict("paid or cancelled already.")},
    )
    def post(self, request: Request, invoice_id: UUID) -> Response:
        """Cancel an invoice (an issued one gets a credit note); its trips may be billed again."""
        data = self.validated(InvoiceCancelInputSerializer)
        invoice = invoicing.invoice_cancel(invoice=self.get_invoice(invoice_id), **data)
        return self.respond(self.reloaded(invoice))


class InvoicePdfApi(_InvoiceApi):
    content_negotiation_class = AnyAccept

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF"),
        },
    )
    def get(self, request: Request, invoice_id: UUID) -> HttpResponse:
        """The invoice's latest PDF (its last reminder, or its credit note); 404 for a draft."""
        document = invoicing.invoice_pdf(invoice=self.get_invoice(invoice_id))
        if document is None:
            raise Http404
        response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
        name = document.invoice.credit_note_number if document.kind == "credit_note" else None
        name = name or document.invoice.number or "invoice"
        response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return response


# --- payments -------------------------------------------------------------------------------
class PaymentListCreateApi(CompanyListApiView):
    queryset = Payment.objects.none()
    serializer_class = PaymentOutputSerializer
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[Payment]:
        return selectors.payment_list(company_id=self.company_id)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        query = PaymentListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        return selectors.payment_list(
            company_id=self.company_id, invoice_id=params.get("invoice"), flag=params.get("flag")
        )

    @extend_schema(parameters=[PaymentListQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """List payments, newest first, by invoice or flag (partial, overpaid, unmatched)."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=PaymentCreateInputSerializer,
        responses={201: PaymentOutputSerializer, 409: conflict("a draft or cancelled invoice.")},
    )
    def post(self, request: Request) -> Response:
        """Record a payment by hand, on an invoice or on the invoice with a reference."""
        data = self.validated(PaymentCreateInputSerializer)
        invoice = None
        if data.get("invoice"):
            invoice = Invoice.objects.filter(company_id=self.company_id, pk=data["invoice"]).first()
            if invoice is None:
                raise Http404
        payment = payments.payment_record(
            company=company_get(company_id=self.company_id),
            invoice=invoice,
            amount=data["amount"],
            received_on=data.get("received_on"),
            reference=data["reference"],
            note=data["note"],
        )
        return self.respond(payment, status=201)


class PaymentImportApi(CompanyApiView):
    queryset = Payment.objects.none()
    serializer_class = PaymentImportOutputSerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": PaymentImportInputSerializer},
        responses={200: PaymentImportOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        """Import the bank's camt.054 file: pays invoices by reference; lists unknown ones."""
        upload = self.validated(PaymentImportInputSerializer)["file"]
        result = payments.payments_import(
            company=company_get(company_id=self.company_id),
            data=upload.read(),
            filename=getattr(upload, "name", "") or "",
        )
        body = {
            "id": result.payment_import.pk if result.payment_import else None,
            "message_id": result.message_id,
            "entries": result.entries,
            "matched": result.matched,
            "duplicates": result.duplicates,
            "flagged": result.flagged,
            "unknown": result.unknown,
        }
        return Response(PaymentImportOutputSerializer(body).data)


# --- tariffs, payers, settings --------------------------------------------------------------
class TariffListCreateApi(CompanyApiView):
    queryset = Tariff.objects.none()
    serializer_class = TariffOutputSerializer
    write_roles = ADMIN
    pagination_class = None  # a company has a few versions

    @extend_schema(responses=TariffOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        """The company's tariff versions, newest first, with the payers' overrides."""
        tariffs = selectors.tariff_list(company_id=self.company_id)
        return Response(TariffOutputSerializer(tariffs, many=True).data)

    @extend_schema(
        request=TariffInputSerializer,
        responses={201: TariffOutputSerializer, 409: conflict("a version starts that day.")},
    )
    def post(self, request: Request) -> Response:
        """Add a tariff version from a day (company admins); versions are never edited."""
        data = self.validated(TariffInputSerializer)
        tariff = services.tariff_create(company=company_get(company_id=self.company_id), **data)
        return self.respond(
            selectors.tariff_list(company_id=self.company_id).get(pk=tariff.pk), 201
        )


class PayerListCreateApi(CompanyListApiView):
    queryset = Payer.objects.none()
    serializer_class = PayerOutputSerializer

    def get_queryset(self) -> QuerySet[Payer]:
        return selectors.payer_list(company_id=self.company_id)

    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """List payers: insurers, institutions and the patients who pay for themselves."""
        return super().get(request, *args, **kwargs)

    @extend_schema(request=PayerInputSerializer, responses={201: PayerOutputSerializer})
    def post(self, request: Request) -> Response:
        """Add an insurer or an institution."""
        data = self.validated(PayerInputSerializer)
        payer = services.payer_create(company=company_get(company_id=self.company_id), **data)
        return self.respond(payer, status=201)


class BillingSettingsApi(CompanyApiView):
    queryset = BillingSettings.objects.none()
    serializer_class = BillingSettingsSerializer
    write_roles = ADMIN

    def get(self, request: Request) -> Response:
        """The company as creditor (address, IBAN or QR-IBAN), payment terms and reminders."""
        return self.respond(services.billing_settings_get(company_id=self.company_id))

    @extend_schema(request=BillingSettingsSerializer, responses=BillingSettingsSerializer)
    def patch(self, request: Request) -> Response:
        """Change the billing settings (company admins); an invalid IBAN is refused."""
        current = services.billing_settings_get(company_id=self.company_id)
        serializer = BillingSettingsSerializer(current, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        settings = services.billing_settings_update(
            company=company_get(company_id=self.company_id), **serializer.validated_data
        )
        return self.respond(settings)


class BookingChargeApi(CompanyApiView):
    queryset = Booking.objects.none()
    serializer_class = TripChargeOutputSerializer

    def get_booking(self, booking_id: UUID) -> Booking:
        return self.get_scoped_object(
            Booking.objects.filter(company_id=self.company_id), booking_id
        )

    def _charge(self, booking: Booking) -> TripCharge:
        charge = TripCharge.objects.filter(booking=booking).select_related("booking").first()
        if charge is None:
            raise Http404
        return charge

    def get(self, request: Request, booking_id: UUID) -> Response:
        """A trip's payer and frozen price with its breakdown (404 until it has either)."""
        return self.respond(self._charge(self.get_booking(booking_id)))

    @extend_schema(
        request=BookingChargeInputSerializer,
        responses={200: TripChargeOutputSerializer, 409: conflict("the trip is invoiced.")},
    )
    def patch(self, request: Request, booking_id: UUID) -> Response:
        """Change a trip's payer, override its price with a reason, or set its waiting time."""
        booking = self.get_booking(booking_id)
        changes = self.validated(BookingChargeInputSerializer)
        services.trip_charge_update(booking=booking, changes=changes)
        return self.respond(self._charge(booking))


class ClientBillingApi(CompanyApiView):
    queryset = Client.objects.none()
    serializer_class = ClientBillingSerializer

    def get_client(self, client_id: UUID) -> Client:
        return self.get_scoped_object(Client.objects.filter(company_id=self.company_id), client_id)

    def get(self, request: Request, client_id: UUID) -> Response:
        """A client's default payer (null: the patient pays) and cost guarantee."""
        client = self.get_client(client_id)
        billing = ClientBilling.objects.filter(client=client).first()
        return self.respond(billing or ClientBilling(client=client))

    @extend_schema(request=ClientBillingSerializer, responses=ClientBillingSerializer)
    def patch(self, request: Request, client_id: UUID) -> Response:
        """Set a client's default payer and cost guarantee (their trips' payer from now on)."""
        client = self.get_client(client_id)
        data = self.validated(ClientBillingSerializer, partial=True)
        return self.respond(services.client_billing_set(client=client, **data))


class BillingExportApi(CompanyApiView):
    queryset = Invoice.objects.none()
    serializer_class = ExportQuerySerializer
    content_negotiation_class = AnyAccept

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV")},
    )
    def get(self, request: Request, kind: str) -> HttpResponse:
        """A month's invoices, invoice lines or payments as CSV for the accountant."""
        if kind not in exports.KINDS:
            raise Http404
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        month = query.validated_data["month"]
        body = exports.export_csv(kind=kind, company_id=self.company_id, month=month)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{kind}-{month:%Y-%m}.csv"'
        return response
