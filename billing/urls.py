"""The billing API's routes, included under /api/ by atmr/urls.py."""

from __future__ import annotations

from django.urls import path

from billing import api

urlpatterns = [
    path("invoices", api.InvoiceListApi.as_view(), name="invoice-list"),
    path("invoices/generate", api.InvoiceGenerateApi.as_view(), name="invoice-generate"),
    path("invoices/<uuid:invoice_id>", api.InvoiceDetailApi.as_view(), name="invoice-detail"),
    path("invoices/<uuid:invoice_id>/pdf", api.InvoicePdfApi.as_view(), name="invoice-pdf"),
    path("invoices/<uuid:invoice_id>/issue", api.InvoiceIssueApi.as_view(), name="invoice-issue"),
    path(
        "invoices/<uuid:invoice_id>/cancel", api.InvoiceCancelApi.as_view(), name="invoice-cancel"
    ),
    path("payments", api.PaymentListCreateApi.as_view(), name="payment-list"),
    path("payments/import", api.PaymentImportApi.as_view(), name="payment-import"),
    path("tariffs", api.TariffListCreateApi.as_view(), name="tariff-list"),
    path("payers", api.PayerListCreateApi.as_view(), name="payer-list"),
    path(
        "bookings/<uuid:booking_id>/charge", api.BookingChargeApi.as_view(), name="booking-charge"
    ),
    path("clients/<uuid:client_id>/billing", api.ClientBillingApi.as_view(), name="client-billing"),
    path("billing/settings", api.BillingSettingsApi.as_view(), name="billing-settings"),
    path("billing/exports/<str:kind>", api.BillingExportApi.as_view(), name="billing-export"),
]
