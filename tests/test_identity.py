"""Specification of identity-data validation and masking (core.accounts.identity).

Sample numbers below are public examples (the GB 11643 / GB 32100 standard
examples and well-known companies' registration codes); their check
characters are recomputed here with an independently written formula rather
than trusted.
"""

from datetime import date

import pytest
from flask import Flask
from flask_babel import Babel
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.accounts.identity import (
    PROVINCE_CODES,
    InvalidIdentity,
    ResidentId,
    Uscc,
    check_password,
    luhn_check_digit,
    mask_bank_card,
    mask_id_number,
    mask_mobile,
    mask_name,
    mask_uscc,
    normalize_cn_mobile,
    password_problems,
    resident_id_check_digit,
    uscc_check_char,
    validate_bank_card,
    validate_resident_id,
    validate_uscc,
)

TODAY = date(2024, 6, 15)
FAST = settings(max_examples=75, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def refused(func, value, *args, **kwargs) -> InvalidIdentity:
    with pytest.raises(InvalidIdentity) as info:
        func(value, *args, **kwargs)
    return info.value


# --- independent reference implementations (textbook formulas) -----------


def ref_id_check(first17: str) -> str:
    # GB 11643: W_i = 2^(18-i) mod 11, check = (12 - S mod 11) mod 11, 10 -> X
    s = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    c = (12 - s % 11) % 11
    return "X" if c == 10 else str(c)


USCC_SET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def ref_uscc_check(first17: str) -> str:
    # GB 32100: W_i = 3^(i-1) mod 31
    s = sum(USCC_SET.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return USCC_SET[(31 - s % 31) % 31]


def ref_luhn_ok(number: str) -> bool:
    total = 0
    for i, d in enumerate(int(c) for c in reversed(number)):
        total += sum(divmod(d * 2, 10)) if i % 2 else d
    return total % 10 == 0


def make_id(first17: str) -> str:
    return first17 + resident_id_check_digit(first17)


def make_uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


# ==========================================================================
# Resident identity number (GB 11643-1999)
# ==========================================================================


class TestResidentIdSamples:
    @pytest.mark.parametrize(
        "number",
        ["110101199003078515", "11010519491231002X", "440524188001010014", "110101199003074477"],
    )
    def test_check_digit_matches_independent_formula(self, number):
        assert ref_id_check(number[:17]) == number[17]
        assert resident_id_check_digit(number[:17]) == number[17]

    def test_standard_example_female_with_x(self):
        rid = validate_resident_id("11010519491231002X", today=TODAY)
        assert rid == ResidentId("11010519491231002X", "110105", date(1949, 12, 31), "female")

    def test_male_sample(self):
        rid = validate_resident_id("110101199003078515", today=TODAY)
        assert (rid.region_code, rid.birth_date, rid.sex) == ("110101", date(1990, 3, 7), "male")
        assert rid.age(TODAY) == 34

    def test_lower_case_x_spaces_and_full_width_digits_are_accepted(self):
        for raw in ["11010519491231002x", " 110105 19491231 002x ", "１１０１０５１９４９１２３１００２Ｘ"]:
            assert validate_resident_id(raw, today=TODAY).number == "11010519491231002X"

    def test_result_is_frozen_and_repr_does_not_leak(self):
        rid = validate_resident_id("110101199003078515", today=TODAY)
        with pytest.raises(AttributeError):
            rid.number = "x"  # type: ignore[misc]
        assert "199003" not in repr(rid)

    def test_default_today_is_the_real_date(self):
        assert validate_resident_id("110101199003078515").birth_date == date(1990, 3, 7)

    def test_hong_kong_macao_taiwan_residence_permits(self):
        for prefix in ("810000", "820000", "830000"):
            assert validate_resident_id(make_id(prefix + "19900101001"), today=TODAY).region_code == prefix


class TestResidentIdAge:
    def test_birthday_boundary(self):
        rid = validate_resident_id(make_id("11010120060615123"), today=TODAY)
        assert rid.age(date(2024, 6, 14)) == 17
        assert rid.age(date(2024, 6, 15)) == 18

    def test_leap_day_birthday_counts_from_march_first(self):
        rid = validate_resident_id(make_id("11010120000229123"), today=TODAY)
        assert rid.age(date(2018, 2, 28)) == 17
        assert rid.age(date(2018, 3, 1)) == 18
        assert rid.age(date(2020, 2, 29)) == 20

    def test_age_before_birth_is_an_error(self):
        rid = validate_resident_id("110101199003078515", today=TODAY)
        with pytest.raises(ValueError):
            rid.age(date(1990, 3, 6))


class TestResidentIdRefusals:
    @pytest.mark.parametrize("raw", ["", "11010119900307851", "1101011990030785155", "110101900307851"])
    def test_length(self, raw):
        e = refused(validate_resident_id, raw, today=TODAY)
        assert (e.field, e.code) == ("id_number", "length")

    def test_old_15_digit_number_gets_a_specific_message(self):
        e = refused(validate_resident_id, "110101900307851", today=TODAY)
        assert "15" in str(e)

    @pytest.mark.parametrize("raw", ["11010119900307851A", "1101011990030X8515", "11010119900307851-"])
    def test_format(self, raw):
        assert refused(validate_resident_id, raw, today=TODAY).code == "format"

    @pytest.mark.parametrize(
        "first6",
        ["000101", "100101", "160101", "240101", "660101", "720101", "910101", "110001", "440000"],
    )
    def test_region(self, first6):
        number = make_id(first6 + "19900307851")
        assert refused(validate_resident_id, number, today=TODAY).code == "region"

    @pytest.mark.parametrize(
        "yyyymmdd",
        ["19000229", "19990229", "19901301", "19900001", "19900431", "18991231", "20240616", "30000101"],
    )
    def test_birth_date(self, yyyymmdd):
        number = make_id("110101" + yyyymmdd + "123")
        assert refused(validate_resident_id, number, today=TODAY).code == "birth_date"

    def test_birth_date_bounds_are_inclusive(self):
        assert validate_resident_id(make_id("11010119000101123"), today=TODAY).birth_date == date(1900, 1, 1)
        assert validate_resident_id(make_id("11010120240615123"), today=TODAY).birth_date == TODAY

    def test_standard_example_born_1880_is_refused_by_the_1900_floor(self):
        assert refused(validate_resident_id, "440524188001010014", today=TODAY).code == "birth_date"

    def test_check_digit(self):
        e = refused(validate_resident_id, "110101199003078514", today=TODAY)
        assert (e.field, e.code) == ("id_number", "check_digit")

    @pytest.mark.parametrize("bad", ["1101011990030785", "11010119900307851X", "1101011990030785a", 17 * "１"])
    def test_check_digit_helper_needs_17_ascii_digits(self, bad):
        with pytest.raises(InvalidIdentity):
            resident_id_check_digit(bad)


MAINLAND = sorted(PROVINCE_CODES - {"71", "81", "82"})


@st.composite
def id_bodies(draw):
    region = draw(st.sampled_from(MAINLAND)) + draw(st.sampled_from([f"{n:02}" for n in range(1, 100)]))
    region += draw(st.sampled_from([f"{n:02}" for n in range(100)]))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    seq = draw(st.integers(0, 999))
    return f"{region}{born:%Y%m%d}{seq:03}", born, seq


class TestResidentIdProperties:
    @FAST
    @given(id_bodies())
    def test_any_valid_body_plus_computed_check_digit_validates(self, body):
        first17, born, seq = body
        assert resident_id_check_digit(first17) == ref_id_check(first17)
        rid = validate_resident_id(make_id(first17), today=TODAY)
        assert rid.birth_date == born
        assert rid.region_code == first17[:6]
        assert rid.sex == ("male" if seq % 2 else "female")

    @FAST
    @given(id_bodies(), st.integers(0, 17), st.sampled_from("0123456789X"))
    def test_any_single_character_change_is_detected(self, body, pos, new):
        number = make_id(body[0])
        assume(new != number[pos])
        assume(pos == 17 or new != "X")
        with pytest.raises(InvalidIdentity):
            validate_resident_id(number[:pos] + new + number[pos + 1 :], today=TODAY)

    def test_every_single_character_change_of_the_samples_is_detected(self):
        for number in ["110101199003078515", "11010519491231002X"]:
            for pos in range(18):
                for new in "0123456789X" if pos == 17 else "0123456789":
                    if new != number[pos]:
                        with pytest.raises(InvalidIdentity):
                            validate_resident_id(number[:pos] + new + number[pos + 1 :], today=TODAY)

    @FAST
    @given(st.text(max_size=25))
    def test_arbitrary_text_is_accepted_or_refused_never_crashes(self, text):
        try:
            validate_resident_id(text, today=TODAY)
        except InvalidIdentity as e:
            assert e.code in {"length", "format", "region", "birth_date", "check_digit"}


# ==========================================================================
# Unified social credit code (GB 32100-2015)
# ==========================================================================


class TestUscc:
    @pytest.mark.parametrize(
        "code",
        [
            "91350100M000100Y43",  # example in GB 32100-2015
            "91330100716105852F",
            "9144030071526726XG",
            "914403001922038216",
            "91110000600037341L",
        ],
    )
    def test_public_samples(self, code):
        assert ref_uscc_check(code[:17]) == code[17] == uscc_check_char(code[:17])
        assert validate_uscc(code).code == code

    def test_parts(self):
        assert validate_uscc(" 91350100m000100y43 ") == Uscc(
            code="91350100M000100Y43",
            authority="9",
            type_code="1",
            region_code="350100",
            organization_code="M000100Y4",
        )

    def test_national_region_and_province_level_region(self):
        assert validate_uscc(make_uscc("11100000000013127")).region_code == "100000"
        assert validate_uscc(make_uscc("91310000123456789")).region_code == "310000"

    @pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y431"])
    def test_length(self, code):
        e = refused(validate_uscc, code)
        assert (e.field, e.code) == ("uscc", "length")

    @pytest.mark.parametrize("letter", "IOSVZ-*")
    def test_format(self, letter):
        assert refused(validate_uscc, "91350100M000100" + letter + "43").code == "format"

    @pytest.mark.parametrize("first", "0BCDEFGHJKLMPQRTUWX")
    def test_authority(self, first):
        assert refused(validate_uscc, make_uscc(first + "1350100M000100Y4")).code == "authority"

    @pytest.mark.parametrize("region", ["000000", "990100", "160100", "35A100", "200000"])
    def test_region(self, region):
        assert refused(validate_uscc, make_uscc("91" + region + "M000100Y4")).code == "region"

    def test_check_digit(self):
        assert refused(validate_uscc, "91350100M000100Y44").code == "check_digit"

    def test_check_char_helper_refuses_bad_input(self):
        with pytest.raises(InvalidIdentity):
            uscc_check_char("91350100M000100I4")

    @FAST
    @given(
        st.sampled_from("123456789ANY"),
        st.sampled_from(USCC_SET),
        st.sampled_from(sorted(PROVINCE_CODES)),
        st.text(USCC_SET, min_size=13, max_size=13),
        st.data(),
    )
    def test_valid_codes_validate_and_any_single_change_is_detected(self, auth, typ, prov, rest, data):
        rest = rest[:4].translate(str.maketrans(USCC_SET, "0123456789" * 3 + "0")) + rest[4:]
        code = make_uscc(auth + typ + prov + rest)
        assert code[17] == ref_uscc_check(code[:17])
        assert validate_uscc(code).region_code == prov + rest[:4]
        pos = data.draw(st.integers(0, 17))
        new = data.draw(st.sampled_from(USCC_SET).filter(lambda c: c != code[pos]))
        with pytest.raises(InvalidIdentity):
            validate_uscc(code[:pos] + new + code[pos + 1 :])

    def test_every_single_character_change_of_the_standard_example_is_detected(self):
        code = "91350100M000100Y43"
        for pos in range(18):
            for new in USCC_SET:
                if new != code[pos]:
                    with pytest.raises(InvalidIdentity):
                        validate_uscc(code[:pos] + new + code[pos + 1 :])


# ==========================================================================
# Bank card (Luhn)
# ==========================================================================


class TestBankCard:
    @pytest.mark.parametrize("card", ["4111111111111111", "6222600260001072444", "6222 6002 6000 1072 444"])
    def test_valid(self, card):
        assert ref_luhn_ok(card.replace(" ", ""))
        assert validate_bank_card(card) == card.replace(" ", "")

    def test_classic_luhn_example(self):
        assert luhn_check_digit("7992739871") == "3"

    @pytest.mark.parametrize("card", ["", "41111111111", "41111111111111111111", "4111-1111-1111-111a", "4111１"])
    def test_format(self, card):
        e = refused(validate_bank_card, card)
        assert (e.field, e.code) == ("bank_card", "format")

    def test_check_digit(self):
        assert refused(validate_bank_card, "4111111111111112").code == "check_digit"

    @pytest.mark.parametrize("bad", ["", "12a4", "١٢٣"])
    def test_helper_refuses_non_digits(self, bad):
        with pytest.raises(InvalidIdentity):
            luhn_check_digit(bad)

    @FAST
    @given(st.text("0123456789", min_size=11, max_size=18), st.data())
    def test_detects_every_single_digit_error(self, body, data):
        card = body + luhn_check_digit(body)
        assert ref_luhn_ok(card) and validate_bank_card(card) == card
        pos = data.draw(st.integers(0, len(card) - 1))
        new = data.draw(st.sampled_from("0123456789").filter(lambda d: d != card[pos]))
        assert refused(validate_bank_card, card[:pos] + new + card[pos + 1 :]).code == "check_digit"

    @FAST
    @given(st.text("0123456789", min_size=11, max_size=18), st.data())
    def test_detects_adjacent_transpositions_except_09_and_90(self, body, data):
        card = body + luhn_check_digit(body)
        pos = data.draw(st.integers(0, len(card) - 2))
        a, b = card[pos], card[pos + 1]
        assume(a != b)
        swapped = card[:pos] + b + a + card[pos + 2 :]
        if {a, b} == {"0", "9"}:
            assert validate_bank_card(swapped) == swapped  # the known blind spot
        else:
            assert refused(validate_bank_card, swapped).code == "check_digit"

    def test_09_90_transposition_is_the_known_blind_spot(self):
        body = "62226002600010709"
        card = body + luhn_check_digit(body)
        swapped = card.replace("709", "790")
        assert swapped != card and validate_bank_card(swapped) == swapped


# ==========================================================================
# Mobile number
# ==========================================================================


class TestMobile:
    @pytest.mark.parametrize(
        "raw",
        ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "+8613812345678",
         "0086 13812345678", "8613812345678", "13812345678\n", "(+86) 138-1234-5678", "１３８１２３４５６７８"],
    )
    def test_accepted_forms(self, raw):
        assert normalize_cn_mobile(raw) == "13812345678"

    @pytest.mark.parametrize(
        "raw",
        ["", "12812345678", "1381234567", "138123456789", "+1 13812345678", "1381234567a", "010-12345678", "+86"],
    )
    def test_refused(self, raw):
        e = refused(normalize_cn_mobile, raw)
        assert (e.field, e.code) == ("mobile", "mobile")

    @FAST
    @given(st.sampled_from("3456789"), st.text("0123456789", min_size=9, max_size=9))
    def test_every_mainland_number_round_trips(self, second, rest):
        number = "1" + second + rest
        assert normalize_cn_mobile(f"+86 {number[:3]}-{number[3:7]}-{number[7:]}") == number


# ==========================================================================
# Passwords
# ==========================================================================


class TestPasswords:
    def test_good_password_has_no_problems(self):
        assert password_problems("abc12345") == []
        assert check_password("密码abc123") is None

    @pytest.mark.parametrize(
        "password, count",
        [("", 1), ("abc1", 1), ("12345678", 1), ("abcdefgh", 1), ("1234", 2), ("abc", 2), ("密码密码密码密码", 1)],
    )
    def test_problem_counts(self, password, count):
        assert len(password_problems(password)) == count

    def test_min_length_is_configurable(self):
        assert password_problems("abc123", min_length=6) == []
        assert "12" in str(password_problems("abc123", min_length=12)[0])

    def test_check_password_lists_every_problem(self):
        e = refused(check_password, "1234")
        assert (e.field, e.code) == ("password", "weak_password")
        for problem in password_problems("1234"):
            assert str(problem) in str(e.message)


# ==========================================================================
# Masking
# ==========================================================================


class TestMaskingExamples:
    def test_examples(self):
        assert mask_id_number("110101199003078515") == "1101**********8515"
        assert mask_id_number("11010519491231002x") == "1101**********002X"
        assert mask_uscc("91350100M000100Y43") == "91************0Y43"
        assert mask_mobile("13812345678") == "138****5678"
        assert mask_mobile("+86 138-1234-5678") == "138****5678"
        assert mask_bank_card("6222021234567890123") == "6222 **** **** 0123"
        assert mask_bank_card("4111 1111 1111 1111") == "4111 **** **** 1111"
        assert mask_name("张三") == "张*"
        assert mask_name("欧阳娜娜") == "欧***"
        assert mask_name("John Smith") == "J*** S****"
        assert mask_name("阿沛·阿旺晋美") == "阿*·****"
        assert mask_name("Mary-Jane O'Neil") == "M***-J*** O'****"
        assert mask_name("J. Smith") == "J. S****"

    @pytest.mark.parametrize("func", [mask_id_number, mask_uscc, mask_mobile, mask_bank_card, mask_name])
    def test_empty_and_none(self, func):
        assert func("") == ""
        assert func(None) == ""  # type: ignore[arg-type]

    def test_short_values_are_masked_whole(self):
        assert mask_id_number("11010119900") == "***********"
        assert mask_uscc("9135") == "****"
        assert mask_mobile("1381234") == "*******"
        assert mask_bank_card("41111") == "*****"
        assert mask_name("张") == "*"
        assert mask_name("J") == "*"
        assert mask_name("A B") == "* *"


NAME_PUNCTUATION = " ·•・‧-'’."


def visible(masked: str) -> str:
    return "".join(c for c in masked if c not in "* ")


class TestMaskingProperties:
    @FAST
    @given(st.text(max_size=30))
    def test_id_number_shows_at_most_first_and_last_four(self, text):
        out = mask_id_number(text)
        assert len(visible(out)) <= 8
        assert out.count("*") >= min(len(out), 10)

    @FAST
    @given(st.text(USCC_SET, max_size=30))
    def test_uscc_shows_at_most_first_two_and_last_four(self, text):
        out = mask_uscc(text)
        assert len(visible(out)) <= 6
        assert out.count("*") >= min(len(out), 12)

    @FAST
    @given(st.text(max_size=20))
    def test_mobile_shows_at_most_seven_and_hides_at_least_four(self, text):
        out = mask_mobile(text)
        assert len(visible(out)) <= 7
        assert out.count("*") >= min(len(out), 4)

    @FAST
    @given(st.text("0123456789 -", max_size=30))
    def test_bank_card_shows_at_most_eight_digits_and_not_the_length(self, text):
        out = mask_bank_card(text)
        assert len(visible(out)) <= 8
        digits = "".join(c for c in text if c.isdigit())
        if len(digits) >= 12:
            assert out == f"{digits[:4]} **** **** {digits[-4:]}"

    @FAST
    @given(st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=6))
    def test_chinese_name_shows_only_the_first_character(self, name):
        out = mask_name(name)
        assert len(out) == len(name)
        assert visible(out) == (name[0] if len(name) > 1 else "")

    @FAST
    @given(st.lists(st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
                    min_size=1, max_size=4))
    def test_latin_name_shows_at_most_one_initial_per_word(self, words):
        out = mask_name(" ".join(words))
        shown = visible(out)
        assert len(shown) <= len(words)
        assert "*" in out
        assert shown in "".join(w[0] for w in words)

    @FAST
    @given(st.text(max_size=20))
    def test_names_never_shown_whole(self, text):
        out = mask_name(text)
        if visible(out).strip(NAME_PUNCTUATION):  # anything of the name itself shown
            assert "*" in out


# ==========================================================================
# Messages
# ==========================================================================


def all_refusals():
    today = TODAY
    return [
        refused(validate_resident_id, "123", today=today),
        refused(validate_resident_id, "110101900307851", today=today),
        refused(validate_resident_id, "11010119900307851A", today=today),
        refused(validate_resident_id, make_id("00010119900307851"), today=today),
        refused(validate_resident_id, make_id("11010119990229851"), today=today),
        refused(validate_resident_id, "110101199003078514", today=today),
        refused(resident_id_check_digit, "x"),
        refused(validate_uscc, "9"),
        refused(validate_uscc, "91350100M000100I43"),
        refused(validate_uscc, make_uscc("B1350100M000100Y4")),
        refused(validate_uscc, make_uscc("91000000M000100Y4")),
        refused(validate_uscc, "91350100M000100Y44"),
        refused(uscc_check_char, "?"),
        refused(validate_bank_card, "12"),
        refused(validate_bank_card, "4111111111111112"),
        refused(luhn_check_digit, "x"),
        refused(normalize_cn_mobile, "12"),
        refused(check_password, "1"),
    ]


class TestMessages:
    def test_every_refusal_renders_outside_an_app_context(self):
        errors = all_refusals()
        assert {(e.field, e.code) for e in errors} >= {
            ("id_number", c) for c in ("length", "format", "region", "birth_date", "check_digit")
        } | {("uscc", c) for c in ("length", "format", "authority", "region", "check_digit")} | {
            ("bank_card", "format"), ("bank_card", "check_digit"), ("mobile", "mobile"),
            ("password", "weak_password"),
        }
        for e in errors:
            text = str(e.message)
            assert text and "%(" not in text
            assert str(e) == text
            assert isinstance(e, ValueError)

    def test_password_problems_render_outside_an_app_context(self):
        for problem in password_problems("1"):
            assert str(problem) and "%(" not in str(problem)

    def test_messages_render_inside_a_babel_app(self):
        app = Flask(__name__)
        Babel(app)
        with app.test_request_context():
            for e in all_refusals():
                assert str(e.message) and "%(" not in str(e.message)

    def test_messages_never_contain_the_submitted_value(self):
        for raw in ["110101199003078514", "11010119900307851A", "110101900307851"]:
            assert raw not in str(refused(validate_resident_id, raw, today=TODAY))
        assert "4111111111111112" not in str(refused(validate_bank_card, "4111111111111112"))
