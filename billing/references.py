"""Payment references and IBANs of the Swiss QR-bill (pure functions, no Django).

A QR reference (QRR) is 27 digits: 26 digits of our own plus a check digit computed with the
recursive modulo 10 of the Swiss payment standards; it may only be used with a QR-IBAN. A
creditor reference (SCOR, ISO 11649) is ``RF`` + 2 check digits (modulo 97) + up to 21
letters or digits; it goes with an ordinary IBAN. Banks report the reference of every
incoming payment in their camt.054 files, which is how payments find their invoices.
"""

from __future__ import annotations

import re

__all__ = [
    "creditor_reference_build",
    "iban_clean",
    "iban_is_qr",
    "qr_reference_build",
    "qr_reference_check_digit",
    "reference_is_valid",
]

# Swiss recursive modulo 10 (Implementation Guidelines QR-bill, annex B).
_MOD10_TABLE = (0, 9, 4, 6, 8, 2, 7, 1, 3, 5)
_QR_IID_FIRST, _QR_IID_LAST = 30000, 31999
# CH and LI IBANs are 21 characters: country, 2 check digits, 5-digit IID, 12 account chars.
_IBAN_LENGTHS = {"CH": 21, "LI": 21}
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")
_ALNUM = re.compile(r"[A-Z0-9]+")


def _compact(value: str) -> str:
    return "".join(value.split()).upper()


def _mod97(text: str) -> int:
    """ISO 7064 MOD 97-10 of letters and digits, letters counting A=10 … Z=35."""
    return int("".join(str(int(char, 36)) for char in text)) % 97


def qr_reference_check_digit(digits: str) -> int:
    """The recursive mod-10 check digit of a string of digits."""
    carry = 0
    for char in digits:
        carry = _MOD10_TABLE[(carry + int(char)) % 10]
    return (10 - carry) % 10


def qr_reference_build(base: str) -> str:
    """The 27-digit QR reference for ``base`` (up to 26 digits, zero-padded on the left).

    Raises ValueError when ``base`` is empty, not all digits or longer than 26 digits.
    """
    base = base.strip()
    if not base or not base.isascii() or not base.isdigit():
        raise ValueError("A QR reference is made of digits only.")
    if len(base) > 26:
        raise ValueError("A QR reference has at most 26 digits before its check digit.")
    padded = base.zfill(26)
    return f"{padded}{qr_reference_check_digit(padded)}"


def creditor_reference_build(base: str) -> str:
    """The ISO 11649 creditor reference ``RF`` + check digits + ``base`` (1–21 letters/digits).

    ``base`` is upper-cased and its spaces dropped. Raises ValueError otherwise.
    """
    body = _compact(base)
    if not body or not body.isascii() or not _ALNUM.fullmatch(body):
        raise ValueError("A creditor reference is made of letters and digits only.")
    if len(body) > 21:
        raise ValueError("A creditor reference has at most 21 characters after its RF prefix.")
    check = 98 - _mod97(f"{body}RF00")
    return f"RF{check:02d}{body}"


def _qr_reference_is_valid(ref: str) -> bool:
    return (
        len(ref) == 27
        and ref.isascii()
        and ref.isdigit()
        and qr_reference_check_digit(ref[:26]) == int(ref[26])
    )


def _creditor_reference_is_valid(ref: str) -> bool:
    return (
        5 <= len(ref) <= 25
        and ref.isascii()
        and ref.startswith("RF")
        and ref[2:4].isdigit()
        and _ALNUM.fullmatch(ref) is not None
        and _mod97(ref[4:] + ref[:4]) == 1
    )


def reference_is_valid(ref: str) -> bool:
    """Whether ``ref`` is a valid QR reference or creditor reference (spaces ignored)."""
    compact = _compact(ref)
    if compact.startswith("RF"):
        return _creditor_reference_is_valid(compact)
    return _qr_reference_is_valid(compact)


def iban_clean(value: str) -> str:
    """``value`` without spaces, upper-cased, once it is a valid Swiss or Liechtenstein IBAN.

    Raises ValueError with a message for people (the office types these into the company's
    billing settings) when it is not.
    """
    iban = _compact(value)
    if not iban:
        raise ValueError("Enter an IBAN.")
    if not iban.isascii() or not _IBAN_SHAPE.fullmatch(iban):
        raise ValueError("An IBAN starts with a country code and two check digits, e.g. CH93 ….")
    if iban[:2] not in _IBAN_LENGTHS:
        raise ValueError("The QR-bill takes only Swiss (CH) or Liechtenstein (LI) IBANs.")
    if len(iban) != _IBAN_LENGTHS[iban[:2]]:
        raise ValueError(f"A {iban[:2]} IBAN has {_IBAN_LENGTHS[iban[:2]]} characters.")
    if not iban[4:9].isdigit():
        raise ValueError("A CH or LI IBAN has 5 digits of bank number after its check digits.")
    if _mod97(iban[4:] + iban[:4]) != 1:
        raise ValueError("This IBAN's check digits do not match: check it for a typo.")
    return iban


def iban_is_qr(iban: str) -> bool:
    """Whether ``iban`` is a QR-IBAN (its institution id is 30000–31999).

    False for anything that is not a valid CH/LI IBAN (``iban_clean`` says why).
    """
    try:
        clean = iban_clean(iban)
    except ValueError:
        return False
    return _QR_IID_FIRST <= int(clean[4:9]) <= _QR_IID_LAST
