"""Reading a bank's camt.054 credit notification (ISO 20022) into payments to match.

Swiss banks send one file per day or per booking batch: ``Ntfctn`` (one per account) holds
``Ntry`` bookings, a batch booking lists its payments as ``NtryDtls/TxDtls``, and each
payment carries the QR or creditor reference the payer copied from the QR-bill in
``RmtInf/Strd/CdtrRefInf/Ref``. Only credits (``CRDT``) that are booked are payments to us.

The file comes from outside: it is parsed with defusedxml (no DTD, no entities, so no XXE and
no entity bombs), limited in size, and refused whole with a ``CamtError`` when anything is
off, so that an import never half-applies a file. Pure functions, no Django.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import NamedTuple
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

__all__ = ["MAX_BYTES", "CamtEntry", "CamtError", "CamtFile", "camt054_parse"]

MAX_BYTES = 10 * 1024 * 1024
# Every camt.054 version (001.02 … 001.13): Swiss banks send .001.04 (SPS 2019) and .001.08.
_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.054\.001\.(\d{2})")
# ISO 20022 ActiveOrHistoricCurrencyAndAmount: up to 18 digits, 5 of them decimals.
_AMOUNT = re.compile(r"\d{1,13}(\.\d{1,5})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Entry status: v04 has the code as text, v08 in <Sts><Cd>; only booked entries are money.
_BOOKED = "BOOK"


class CamtError(Exception):
    """The file is refused whole; ``detail`` says why, for the person who uploaded it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class CamtEntry:
    """One incoming payment. ``entry_id`` is stable: the same file always gives the same ids."""

    entry_id: str
    reference: str | None
    amount: Decimal
    currency: str
    booked_on: date | None
    debtor_name: str


@dataclass(frozen=True)
class CamtFile:
    message_id: str
    entries: tuple[CamtEntry, ...]


class _Reader:
    """Namespace-qualified lookups in one document's namespace."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def path(self, steps: str) -> str:
        return "/".join(f"{{{self.ns}}}{step}" for step in steps.split("/"))

    def find(self, node: Element, steps: str) -> Element | None:
        return node.find(self.path(steps))

    def findall(self, node: Element, steps: str) -> list[Element]:
        return node.findall(self.path(steps))

    def text(self, node: Element, steps: str) -> str:
        found = node.find(self.path(steps))
        return (found.text or "").strip() if found is not None else ""


def camt054_parse(data: bytes) -> CamtFile:
    """The credits of a camt.054 file. Raises ``CamtError`` (nothing parsed) when refused.

    Refused: over ``MAX_BYTES``, not well-formed XML, a DTD or entity declaration, a root that
    is not a camt.054 ``Document``, a missing message id, a malformed amount, currency or
    booking date. Entries with the same id in one file are kept once (banks repeat none).
    """
    root = _document(data)
    reader = _Reader(_namespace(root))
    notification = reader.find(root, "BkToCstmrDbtCdtNtfctn")
    if notification is None:
        raise CamtError("This camt.054 file has no BkToCstmrDbtCdtNtfctn notification.")
    message_id = reader.text(notification, "GrpHdr/MsgId")
    if not message_id:
        raise CamtError("This camt.054 file has no message id (GrpHdr/MsgId).")
    entries: dict[str, CamtEntry] = {}
    for position, ntry in enumerate(reader.findall(notification, "Ntfctn/Ntry")):
        for entry in _entry_payments(reader, ntry, position):
            entries.setdefault(entry.entry_id, entry)
    return CamtFile(message_id=message_id, entries=tuple(entries.values()))


def _document(data: bytes) -> Element:
    if len(data) > MAX_BYTES:
        raise CamtError(f"The file is over {MAX_BYTES // (1024 * 1024)} MB: not a camt.054.")
    if not data.strip():
        raise CamtError("The file is empty.")
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CamtError("The file declares a DTD or entities, which camt.054 never does.") from exc
    except (ParseError, ValueError) as exc:
        raise CamtError(f"The file is not well-formed XML: {exc}.") from exc


def _namespace(root: Element) -> str:
    tag = root.tag
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if local != "Document" or not _NAMESPACE.fullmatch(namespace):
        found = namespace or "no namespace"
        raise CamtError(f"Not a camt.054 notification (found {local} in {found}).")
    return namespace


def _entry_payments(reader: _Reader, ntry: Element, position: int) -> list[CamtEntry]:
    status = reader.text(ntry, "Sts/Cd") or reader.text(ntry, "Sts")
    if status and status != _BOOKED:
        return []
    booked_on = _booking_date(reader, ntry)
    entry_amount, entry_currency = _amount(reader.find(ntry, "Amt"), where="Ntry/Amt")
    entry_indicator = reader.text(ntry, "CdtDbtInd")
    details = reader.findall(ntry, "NtryDtls/TxDtls")
    if not details:
        if entry_indicator != "CRDT":
            return []
        fields = _Tx(entry_amount, entry_currency, None, reader.text(ntry, "AcctSvcrRef"), "")
        return [_entry(fields, booked_on, (str(position),))]
    payments = []
    for index, tx in enumerate(details):
        if (reader.text(tx, "CdtDbtInd") or entry_indicator) != "CRDT":
            continue
        fields = _tx_fields(reader, ntry, tx, single=len(details) == 1)
        if fields.amount is None:
            fields = fields._replace(amount=entry_amount, currency=entry_currency)
        payments.append(_entry(fields, booked_on, (str(position), str(index))))
    return payments


class _Tx(NamedTuple):
    amount: Decimal | None
    currency: str
    reference: str | None
    bank_ref: str
    debtor_name: str


def _tx_fields(reader: _Reader, ntry: Element, tx: Element, *, single: bool) -> _Tx:
    # v05+ put the amount on TxDtls/Amt; v04 only in AmtDtls (TxAmt, else InstdAmt).
    amount_node = next(
        (
            node
            for steps in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt")
            if (node := reader.find(tx, steps)) is not None
        ),
        None,
    )
    amount, currency = (None, "")
    if amount_node is not None:
        amount, currency = _amount(amount_node, where="TxDtls/Amt")
    # The bank's own reference of the transaction is unique; the entry's is unique only when
    # the entry is this one payment.
    bank_ref = reader.text(tx, "Refs/AcctSvcrRef")
    if not bank_ref and single:
        bank_ref = reader.text(ntry, "AcctSvcrRef")
    reference = "".join(reader.text(tx, "RmtInf/Strd/CdtrRefInf/Ref").split()).upper() or None
    name = reader.text(tx, "RltdPties/Dbtr/Pty/Nm") or reader.text(tx, "RltdPties/Dbtr/Nm")
    return _Tx(amount, currency, reference, bank_ref, name)


def _entry(tx: _Tx, booked_on: date | None, position: tuple[str, ...]) -> CamtEntry:
    assert tx.amount is not None  # _amount refused an entry without one
    entry_id = tx.bank_ref or _fallback_id(tx, booked_on, position)
    return CamtEntry(
        entry_id=entry_id,
        reference=tx.reference,
        amount=tx.amount,
        currency=tx.currency,
        booked_on=booked_on,
        debtor_name=tx.debtor_name[:140],
    )


def _fallback_id(tx: _Tx, booked_on: date | None, position: tuple[str, ...]) -> str:
    """A stable id for a payment the bank gave no reference of its own: a hash of its fields
    and its place in the file (so that two equal payments in one file stay two)."""
    fields = (
        str(tx.amount),
        tx.currency,
        tx.reference or "",
        tx.debtor_name,
        booked_on.isoformat() if booked_on else "",
        *position,
    )
    digest = hashlib.sha256("\x1f".join(fields).encode()).hexdigest()
    return f"h:{digest[:40]}"


def _amount(node: Element | None, *, where: str) -> tuple[Decimal, str]:
    if node is None:
        raise CamtError(f"An entry has no amount ({where}).")
    text = (node.text or "").strip()
    currency = (node.get("Ccy") or "").strip()
    if not _AMOUNT.fullmatch(text):
        raise CamtError(f"Malformed amount {text[:40]!r} in {where}.")
    if not _CURRENCY.fullmatch(currency):
        raise CamtError(f"Malformed currency {currency[:10]!r} in {where}.")
    try:
        return Decimal(text), currency
    except InvalidOperation as exc:  # unreachable after the pattern, kept as a guard
        raise CamtError(f"Malformed amount {text[:40]!r} in {where}.") from exc


def _booking_date(reader: _Reader, ntry: Element) -> date | None:
    text = reader.text(ntry, "BookgDt/Dt") or reader.text(ntry, "BookgDt/DtTm")[:10]
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise CamtError(f"Malformed booking date {text[:30]!r} (Ntry/BookgDt).") from exc
