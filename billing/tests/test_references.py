from __future__ import annotations

import pytest

from billing.references import (
    creditor_reference_build,
    iban_clean,
    iban_is_qr,
    qr_reference_build,
    qr_reference_check_digit,
    reference_is_valid,
)

# Examples from the Swiss Implementation Guidelines for the QR-bill and the qrbill docs.
QR_REFERENCE = "210000000003139471430009017"
CREDITOR_REFERENCE = "RF18539007547034"
IBAN = "CH9300762011623852957"
QR_IBAN = "CH4431999123000889012"
LI_IBAN = "LI21088100002324013AA"


def test_qr_reference_from_guidelines_is_rebuilt_from_its_base():
    assert qr_reference_build(QR_REFERENCE[:26]) == QR_REFERENCE
    assert reference_is_valid(QR_REFERENCE)


def test_qr_reference_pads_to_27_digits():
    ref = qr_reference_build("2026000123")
    assert len(ref) == 27
    assert ref.startswith("0000000000000000")
    assert ref[:26] == "2026000123".zfill(26)
    assert reference_is_valid(ref)


@pytest.mark.parametrize(("digits", "check"), [("00000000000000000000000000", 0), ("1", 1)])
def test_mod10_check_digits(digits, check):
    assert qr_reference_check_digit(digits) == check


@pytest.mark.parametrize("base", ["", "12a4", "1" * 27, "١٢٣", "-1"])
def test_qr_reference_refuses_bad_bases(base):
    with pytest.raises(ValueError):
        qr_reference_build(base)


def test_every_single_digit_change_breaks_a_qr_reference():
    for position in range(27):
        digit = int(QR_REFERENCE[position])
        changed = f"{QR_REFERENCE[:position]}{(digit + 1) % 10}{QR_REFERENCE[position + 1 :]}"
        assert not reference_is_valid(changed), position


def test_spaced_references_are_valid():
    assert reference_is_valid("21 00000 00003 13947 14300 09017")
    assert reference_is_valid("RF18 5390 0754 7034")


def test_creditor_reference_from_iso_11649_example():
    assert creditor_reference_build("539007547034") == CREDITOR_REFERENCE
    assert reference_is_valid(CREDITOR_REFERENCE)
    assert not reference_is_valid("RF19539007547034")
    assert not reference_is_valid("RF18539007547035")


def test_creditor_reference_takes_letters_and_21_characters():
    ref = creditor_reference_build("inv 2026 000123")
    assert ref.startswith("RF") and ref.endswith("INV2026000123")
    assert reference_is_valid(ref)
    assert len(creditor_reference_build("A" * 21)) == 25


@pytest.mark.parametrize("base", ["", "A" * 22, "INV-1", "ÄB"])
def test_creditor_reference_refuses_bad_bases(base):
    with pytest.raises(ValueError):
        creditor_reference_build(base)


@pytest.mark.parametrize(
    "ref", ["", "RF", "RF00", "12345", "2100000000031394714300090170", "RF18 5390 0754 703$"]
)
def test_malformed_references_are_invalid(ref):
    assert not reference_is_valid(ref)


def test_iban_clean_strips_spaces_and_upper_cases():
    assert iban_clean(" ch93 0076 2011 6238 5295 7 ") == IBAN
    assert iban_clean(LI_IBAN.lower()) == LI_IBAN


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter an IBAN"),
        ("CH9300762011623852958", "check digits"),
        ("DE89370400440532013000", r"Swiss \(CH\) or Liechtenstein \(LI\)"),
        ("CH93007620116238529", "21 characters"),
        ("CH93-0076-2011", "country code"),
    ],
)
def test_iban_clean_names_the_problem(value, message):
    with pytest.raises(ValueError, match=message):
        iban_clean(value)


def test_qr_iban_is_told_by_its_institution_id():
    assert iban_is_qr(QR_IBAN)
    assert iban_is_qr("CH44 3199 9123 0008 8901 2")
    assert not iban_is_qr(IBAN)
    assert not iban_is_qr(LI_IBAN)
    assert not iban_is_qr("CH4431999123000889013")  # bad check digits: not an IBAN at all
