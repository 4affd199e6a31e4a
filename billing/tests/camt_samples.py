"""camt.054 files as Swiss banks send them, for tests (``camt054_build``).

Each entry dict takes ``amount`` (required), and optionally ``reference`` (a QR or creditor
reference, or None for a payment without one), ``currency`` ("CHF"), ``booked_on``
(a date, default 2026-11-30; None to leave BookgDt out), ``debtor_name``, ``bank_ref`` (the
bank's AcctSvcrRef of the transaction; default ``<message_id>-<n>``; None to leave it out),
``credit_debit`` ("CRDT" or "DBIT") and ``status`` ("BOOK", "PDNG", …).
With ``batch=True`` all payments are one booking (one Ntry with many TxDtls), as banks book
QR-bill payments; otherwise one Ntry per payment.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

ACCOUNT_IBAN = "CH4431999123000889012"
_DEFAULT_DAY = date(2026, 11, 30)


def camt054_build(
    entries: list[dict[str, Any]],
    message_id: str = "CAMT054-20261130-0001",
    version: str = "001.08",
    *,
    batch: bool = False,
) -> bytes:
    """A camt.054 document (bytes, UTF-8) in ``version`` ("001.04" or "001.08")."""
    root = Element("Document", xmlns=f"urn:iso:std:iso:20022:tech:xsd:camt.054.{version}")
    notification = SubElement(root, "BkToCstmrDbtCdtNtfctn")
    header = SubElement(notification, "GrpHdr")
    _text(header, "MsgId", message_id)
    _text(header, "CreDtTm", "2026-11-30T18:05:12")
    paging = SubElement(header, "MsgPgntn")
    _text(paging, "PgNb", "1")
    _text(paging, "LastPgInd", "true")
    ntfctn = SubElement(notification, "Ntfctn")
    _text(ntfctn, "Id", f"{message_id}-N1")
    _text(ntfctn, "CreDtTm", "2026-11-30T18:05:12")
    _text(SubElement(SubElement(ntfctn, "Acct"), "Id"), "IBAN", ACCOUNT_IBAN)
    payments = [
        {"bank_ref": f"{message_id}-{index}", **entry} for index, entry in enumerate(entries)
    ]
    groups = [payments] if batch else [[payment] for payment in payments]
    for index, group in enumerate(groups):
        _entry(ntfctn, group, version, f"{message_id}-E{index}")
    return tostring(root, encoding="UTF-8", xml_declaration=True)


def _text(parent: Element, tag: str, value: str, **attrib: str) -> Element:
    node = SubElement(parent, tag, attrib)
    node.text = value
    return node


def _entry(ntfctn: Element, group: list[dict[str, Any]], version: str, entry_ref: str) -> None:
    first = group[0]
    currency = first.get("currency", "CHF")
    ntry = SubElement(ntfctn, "Ntry")
    _text(ntry, "NtryRef", entry_ref)
    # A malformed amount (for refusal tests) is copied to the entry as it is.
    total = (
        f"{sum((Decimal(str(p['amount'])) for p in group), Decimal(0)):.2f}"
        if _is_number(group)
        else str(first["amount"])
    )
    _text(ntry, "Amt", total, Ccy=currency)
    _text(ntry, "CdtDbtInd", first.get("credit_debit", "CRDT"))
    status = first.get("status", "BOOK")
    if version == "001.04":
        _text(ntry, "Sts", status)
    else:
        _text(SubElement(ntry, "Sts"), "Cd", status)
    booked_on = first.get("booked_on", _DEFAULT_DAY)
    if booked_on is not None:
        _text(SubElement(ntry, "BookgDt"), "Dt", booked_on.isoformat())
        _text(SubElement(ntry, "ValDt"), "Dt", booked_on.isoformat())
    _text(ntry, "AcctSvcrRef", entry_ref)
    domain = SubElement(SubElement(ntry, "BkTxCd"), "Domn")
    _text(domain, "Cd", "PMNT")
    family = SubElement(domain, "Fmly")
    _text(family, "Cd", "RCDT")
    _text(family, "SubFmlyCd", "VCOM")
    details = SubElement(ntry, "NtryDtls")
    _text(SubElement(details, "Btch"), "NbOfTxs", str(len(group)))
    for payment in group:
        _transaction(details, payment, version)


def _is_number(group: Iterable[dict[str, Any]]) -> bool:
    try:
        for payment in group:
            Decimal(str(payment["amount"]))
    except ArithmeticError:
        return False
    return True


def _transaction(details: Element, payment: dict[str, Any], version: str) -> None:
    tx = SubElement(details, "TxDtls")
    refs = SubElement(tx, "Refs")
    if payment.get("bank_ref"):
        _text(refs, "AcctSvcrRef", payment["bank_ref"])
    _text(refs, "EndToEndId", "NOTPROVIDED")
    amount, currency = str(payment["amount"]), payment.get("currency", "CHF")
    if version == "001.04":
        _text(SubElement(SubElement(tx, "AmtDtls"), "TxAmt"), "Amt", amount, Ccy=currency)
    else:
        _text(tx, "Amt", amount, Ccy=currency)
        _text(tx, "CdtDbtInd", payment.get("credit_debit", "CRDT"))
    name = payment.get("debtor_name", "")
    if name:
        debtor = SubElement(SubElement(tx, "RltdPties"), "Dbtr")
        _text(debtor if version == "001.04" else SubElement(debtor, "Pty"), "Nm", name)
    reference = payment.get("reference")
    if reference:
        info = SubElement(SubElement(SubElement(tx, "RmtInf"), "Strd"), "CdtrRefInf")
        kind = SubElement(SubElement(info, "Tp"), "CdOrPrtry")
        if reference.startswith("RF"):
            _text(kind, "Cd", "SCOR")
        else:
            _text(kind, "Prtry", "QRR")
        _text(info, "Ref", reference)
