from __future__ import annotations

from atmr.exceptions import Conflict, DomainError, InvalidTransition


class BillingError(DomainError):
    code = "billing_error"


class BillingSettingsIncomplete(Conflict):
    """Issuing needs the company's creditor address and IBAN (a 409: the company's state)."""

    code = "billing_settings_incomplete"


class InvoiceInvalidTransition(InvalidTransition):
    code = "invoice_invalid_transition"


class InvoiceConflict(Conflict):
    code = "invoice_conflict"


class TariffMissing(DomainError):
    code = "tariff_missing"


class PaymentImportInvalid(DomainError):
    code = "camt_invalid"
