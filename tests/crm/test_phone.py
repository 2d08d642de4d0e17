"""Phone normalisation: E.164 round trips, national numbers in the default region, junk."""

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crm.services import InvalidPhone, phone_normalize

REGIONS = ["IN", "US", "GB", "DE", "BR", "AE", "SG", "AU", "ZA", "FR"]
pytestmark = pytest.mark.django_db(databases=[])


def example_numbers():
    """Valid numbers of many types and regions, from phonenumbers' own metadata."""
    kinds = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
    numbers = []
    for region in REGIONS:
        for kind in kinds:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                numbers.append(number)
    return numbers


@st.composite
def valid_numbers(draw):
    """Real-looking valid numbers: an example number with its last digits varied."""
    base = draw(st.sampled_from(example_numbers()))
    digits = str(base.national_number)
    tail = draw(st.integers(min_value=0, max_value=999))
    candidate = phonenumbers.PhoneNumber(
        country_code=base.country_code,
        national_number=int(digits[:-3] + f"{tail:03d}"),
        italian_leading_zero=base.italian_leading_zero,
    )
    assume(phonenumbers.is_valid_number(candidate))
    return candidate


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(valid_numbers(), st.sampled_from(["e164", "international", "digits", "spaced"]))
def test_valid_numbers_round_trip_to_e164(number, style):
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Ten digits or fewer without a plus read as a national number first (documented).
    assume(style != "digits" or len(e164) > 11)
    text = {
        "e164": e164,
        "international": phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        ),
        "digits": e164.lstrip("+"),  # what WhatsApp sends as wa_id
        "spaced": f"  {e164[:4]} {e164[4:]}  ",
    }[style]
    assert phone_normalize(text) == e164
    assert phone_normalize(phone_normalize(text)) == e164  # idempotent


@settings(max_examples=100)
@given(st.integers(min_value=6_000_000_000, max_value=9_999_999_999), st.booleans())
def test_national_numbers_are_read_in_the_default_region(national, trunk_zero):
    number = phonenumbers.parse(str(national), "IN")
    assume(phonenumbers.is_valid_number(number))
    text = ("0" if trunk_zero else "") + str(national)
    assert phone_normalize(text) == f"+91{national}"


def test_the_region_setting_and_argument_apply(settings):
    settings.PHONE_DEFAULT_REGION = "GB"
    assert phone_normalize("020 7946 0018") == "+442079460018"
    assert phone_normalize("(201) 555-0123", region="US") == "+12015550123"


@settings(max_examples=200)
@given(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=30),
        st.text(alphabet="0123456789", max_size=4),
        st.just("+91 12345"),
        st.just("+999 123456789"),
        st.just("=HYPERLINK(1)"),
    )
)
def test_junk_raises_invalid_phone(text):
    with pytest.raises(InvalidPhone):
        phone_normalize(text)


@settings(max_examples=500)
@given(
    st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=2),
)
def test_the_fast_validity_check_agrees_with_phonenumbers(code, national, zeros):
    from crm.services.contacts import _is_valid

    number = phonenumbers.PhoneNumber(country_code=code, national_number=national)
    if zeros:
        number.italian_leading_zero = True
        number.number_of_leading_zeros = zeros
    assert _is_valid(number) == phonenumbers.is_valid_number(number)


@settings(max_examples=200)
@given(valid_numbers())
def test_the_fast_validity_check_agrees_on_valid_numbers(number):
    from crm.services.contacts import _is_valid

    assert _is_valid(number) is True
