"""Validation and masking of the identity data a Chinese lending platform handles.

Plain functions over plain values; no database, no app context needed.

Validation
    Every ``validate_*`` / ``normalize_*`` / ``check_*`` function either returns
    the cleaned value (or a small frozen dataclass describing it) or raises
    :class:`InvalidIdentity`, which carries a ``field``, a machine-readable
    ``code`` and a lazily translated human ``message``.  Messages never
    contain the submitted value, so they are safe to log.

    Input is normalised before checking: Unicode NFKC (full-width digits and
    letters typed with a Chinese IME become ASCII), white space removed,
    letters upper-cased where the format has letters.

Masking
    ``mask_*`` functions show a value to people who must not see it whole.
    They never raise, accept empty input (returning ``""``), and when the
    input is too short for the rule to hide what it normally hides, they mask
    every character instead of revealing more than the rule allows.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

__all__ = [
    "InvalidIdentity",
    "ResidentId",
    "Uscc",
    "PROVINCE_CODES",
    "USCC_AUTHORITIES",
    "validate_resident_id",
    "resident_id_check_digit",
    "validate_uscc",
    "uscc_check_char",
    "validate_bank_card",
    "luhn_check_digit",
    "normalize_cn_mobile",
    "password_problems",
    "check_password",
    "mask_id_number",
    "mask_uscc",
    "mask_mobile",
    "mask_bank_card",
    "mask_name",
]


class InvalidIdentity(ValueError):
    """A piece of identity data was refused.

    ``field``   which input was refused, e.g. ``"id_number"``.
    ``code``    why, machine-readable, e.g. ``"check_digit"``.
    ``message`` why, for people; a lazy string translated when rendered.
    """

    def __init__(self, field: str, code: str, message) -> None:
        super().__init__(field, code, message)
        self.field = field
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


# --------------------------------------------------------------------------
# Region codes (GB/T 2260)
# --------------------------------------------------------------------------

#: The 34 province-level administrative division codes (first two digits).
PROVINCE_CODES: frozenset[str] = frozenset(
    [str(n) for n in range(11, 16)]  # 11-15 North
    + [str(n) for n in range(21, 24)]  # 21-23 North-east
    + [str(n) for n in range(31, 38)]  # 31-37 East
    + [str(n) for n in range(41, 47)]  # 41-46 Central-south
    + [str(n) for n in range(50, 55)]  # 50-54 South-west
    + [str(n) for n in range(61, 66)]  # 61-65 North-west
    + ["71", "81", "82"]  # Taiwan, Hong Kong, Macao
)

#: Codes outside the mainland's prefecture/county structure; numbers issued
#: under them use the whole-region code ``XX0000``.  ``83`` is not a GB/T 2260
#: province code, but GB 11643-format numbers on the Residence Permit for
#: Taiwan Residents (2018) begin ``830000`` (Hong Kong ``810000``, Macao
#: ``820000``), so resident-ID validation accepts it as well.
_NON_MAINLAND_CODES = frozenset(["71", "81", "82"])
_RESIDENCE_PERMIT_TAIWAN = "83"

#: Region part of unified social credit codes issued to national-level bodies.
_NATIONAL_REGION = "100000"


def _clean(value) -> str:
    """NFKC-normalise, drop all white space."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return "".join(text.split())


def _resident_region_ok(region: str) -> bool:
    """Region rule for resident identity numbers.

    * the first two digits are a province-level code (or ``83``, see above);
    * on the mainland the prefecture part (digits 3-4) is not ``00``: numbers
      are issued by county-level public-security offices, and every such
      office sits under a prefecture-level code (``01``-``99``; municipalities
      use ``01``/``02``, directly-administered county-level cities ``90``).
      The county part (digits 5-6) is *not* checked: numbers issued before
      re-districting carry retired or aggregate codes and remain valid for life.
    """
    province, prefecture = region[:2], region[2:4]
    if province in _NON_MAINLAND_CODES or province == _RESIDENCE_PERMIT_TAIWAN:
        return True
    return province in PROVINCE_CODES and prefecture != "00"


# --------------------------------------------------------------------------
# Resident identity number (GB 11643-1999)
# --------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_RE = re.compile(r"[0-9]{17}[0-9X]")
_EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class ResidentId:
    """A validated 18-character resident identity number."""

    number: str
    region_code: str
    birth_date: date
    sex: str  # "male" or "female"

    def age(self, on: date) -> int:
        """Completed years on ``on``.

        Someone born on 29 February turns a year older on 1 March in common
        years.
        """
        if on < self.birth_date:
            raise ValueError("date is before the birth date")
        years = on.year - self.birth_date.year
        if (on.month, on.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def __repr__(self) -> str:  # never put a whole ID number into logs
        return f"ResidentId(number={mask_id_number(self.number)!r}, sex={self.sex!r})"


def resident_id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if not (isinstance(first17, str) and len(first17) == 17 and first17.isascii() and first17.isdigit()):
        raise InvalidIdentity(
            "id_number", "format", _l("The first 17 characters of an identity number must be digits.")
        )
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK_CHARS[total % 11]


def validate_resident_id(value: str, today: date | None = None) -> ResidentId:
    """Validate an 18-character resident identity number.

    Codes, in the order they are checked: ``length``, ``format``, ``region``,
    ``birth_date`` (a real date, from 1900-01-01 up to ``today``),
    ``check_digit``.
    """
    field = "id_number"
    number = _clean(value).upper()
    if len(number) != 18:
        if len(number) == 15 and number.isdigit():
            msg = _l(
                "This looks like an old 15-digit identity number; "
                "please enter the 18-character number on your current card."
            )
        else:
            msg = _l("An identity number has 18 characters.")
        raise InvalidIdentity(field, "length", msg)
    if not _ID_RE.fullmatch(number):
        raise InvalidIdentity(
            field,
            "format",
            _l("An identity number has 17 digits followed by a digit or the letter X."),
        )
    region = number[:6]
    if not _resident_region_ok(region):
        raise InvalidIdentity(
            field, "region", _l("The first six digits of the identity number are not a valid region code.")
        )
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        birth = None
    today = today or date.today()
    if birth is None or birth < _EARLIEST_BIRTH or birth > today:
        raise InvalidIdentity(
            field, "birth_date", _l("The date of birth in the identity number is not valid.")
        )
    if resident_id_check_digit(number[:17]) != number[17]:
        raise InvalidIdentity(
            field,
            "check_digit",
            _l("The identity number is not valid; please check it for typing mistakes."),
        )
    sex = "male" if int(number[16]) % 2 else "female"
    return ResidentId(number=number, region_code=region, birth_date=birth, sex=sex)


# --------------------------------------------------------------------------
# Unified social credit code (GB 32100-2015)
# --------------------------------------------------------------------------

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(_USCC_CHARS)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: Registration authorities: 1 organisation establishment, 2 foreign affairs,
#: 3 justice, 4 culture, 5 civil affairs, 6 religion, 7 trade unions,
#: 8 other, 9 market regulation (industry and commerce), A central military
#: commission, N agriculture, Y other.
USCC_AUTHORITIES = frozenset("123456789ANY")


@dataclass(frozen=True)
class Uscc:
    """A validated unified social credit code."""

    code: str
    authority: str
    type_code: str
    region_code: str
    organization_code: str  # characters 9-17, the former organisation code


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character for the first 17 characters."""
    if not (isinstance(first17, str) and len(first17) == 17 and all(c in _USCC_VALUES for c in first17)):
        raise InvalidIdentity(
            "uscc",
            "format",
            _l("A unified social credit code uses only digits and the capital letters A-Y without I, O, S, V and Z."),
        )
    total = sum(_USCC_VALUES[c] * w for c, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_CHARS[(31 - total % 31) % 31]


def validate_uscc(value: str) -> Uscc:
    """Validate an 18-character unified social credit code.

    Codes: ``length``, ``format`` (characters outside the GB 32100 set),
    ``authority`` (first character), ``region`` (characters 3-8 must be a
    division code of a province-level region as for resident IDs, or
    ``100000`` for national bodies; company codes commonly carry a
    province-level ``XX0000``, so no prefecture check), ``check_digit``.
    The type code (second character) is only checked against the character set.
    """
    field = "uscc"
    code = _clean(value).upper()
    if len(code) != 18:
        raise InvalidIdentity(field, "length", _l("A unified social credit code has 18 characters."))
    if any(c not in _USCC_VALUES for c in code):
        raise InvalidIdentity(
            field,
            "format",
            _l("A unified social credit code uses only digits and the capital letters A-Y without I, O, S, V and Z."),
        )
    if code[0] not in USCC_AUTHORITIES:
        raise InvalidIdentity(
            field,
            "authority",
            _l("The first character of the unified social credit code is not a known registration authority."),
        )
    region = code[2:8]
    if not (region.isdigit() and (region[:2] in PROVINCE_CODES or region == _NATIONAL_REGION)):
        raise InvalidIdentity(
            field,
            "region",
            _l("Characters 3 to 8 of the unified social credit code are not a valid region code."),
        )
    if uscc_check_char(code[:17]) != code[17]:
        raise InvalidIdentity(
            field,
            "check_digit",
            _l("The unified social credit code is not valid; please check it for typing mistakes."),
        )
    return Uscc(code=code, authority=code[0], type_code=code[1], region_code=region, organization_code=code[8:17])


# --------------------------------------------------------------------------
# Bank card (Luhn)
# --------------------------------------------------------------------------


def _luhn_sum(digits: str, double_rightmost: bool) -> int:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if (i % 2 == 0) == double_rightmost:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total


def luhn_check_digit(partial: str) -> str:
    """The Luhn digit to append to ``partial`` (a non-empty string of digits)."""
    if not (isinstance(partial, str) and partial and partial.isascii() and partial.isdigit()):
        raise InvalidIdentity("bank_card", "format", _l("A bank card number consists of digits only."))
    return str((10 - _luhn_sum(partial, double_rightmost=True) % 10) % 10)


def validate_bank_card(value: str) -> str:
    """Return the card number as 12-19 digits; codes ``format``, ``check_digit``."""
    field = "bank_card"
    digits = _clean(value).replace("-", "")
    if not (12 <= len(digits) <= 19 and digits.isascii() and digits.isdigit()):
        raise InvalidIdentity(field, "format", _l("A bank card number has 12 to 19 digits."))
    if _luhn_sum(digits, double_rightmost=False) % 10:
        raise InvalidIdentity(
            field, "check_digit", _l("The bank card number is not valid; please check it for typing mistakes.")
        )
    return digits


# --------------------------------------------------------------------------
# Mobile number
# --------------------------------------------------------------------------

_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")


def _strip_mobile(value) -> str:
    text = re.sub(r"[\s\-()]", "", _clean(value))
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            return text[len(prefix):]
    if len(text) == 13 and text.startswith("86"):
        return text[2:]
    return text


def normalize_cn_mobile(value: str) -> str:
    """Return a mainland mobile number as 11 digits; code ``mobile``.

    Accepts spaces, dashes, brackets and a ``+86``, ``0086`` or bare ``86``
    country prefix.
    """
    number = _strip_mobile(value)
    if not _MOBILE_RE.fullmatch(number):
        raise InvalidIdentity(
            "mobile", "mobile", _l("Please enter a mainland China mobile number: 11 digits starting with 1.")
        )
    return number


# --------------------------------------------------------------------------
# Passwords
# --------------------------------------------------------------------------


def password_problems(password: str, min_length: int = 8) -> list:
    """What is wrong with ``password``, as lazily translated messages; empty if fine."""
    password = password or ""
    problems = []
    if len(password) < min_length:
        problems.append(_l("Use at least %(min_length)d characters.", min_length=min_length))
    if password.isdigit():
        problems.append(_l("Do not use digits only."))
    if password.isalpha():
        problems.append(_l("Do not use letters only."))
    return problems


def _join(parts) -> str:
    return " ".join(str(p) for p in parts)


def check_password(password: str, min_length: int = 8) -> None:
    """Raise ``InvalidIdentity(field="password", code="weak_password")`` listing the problems."""
    problems = password_problems(password, min_length)
    if problems:
        raise InvalidIdentity(
            "password",
            "weak_password",
            _l("The password is too weak. %(problems)s", problems=LazyString(_join, problems)),
        )


# --------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------


def _mask_middle(text: str, head: int, tail: int, min_hidden: int) -> str:
    """Show ``head`` and ``tail`` characters only if at least ``min_hidden`` stay hidden."""
    if not text:
        return ""
    if len(text) - head - tail < min_hidden:
        return "*" * len(text)
    return text[:head] + "*" * (len(text) - head - tail) + text[len(text) - tail:]


def mask_id_number(value: str) -> str:
    """``110101199003078515`` -> ``1101**********8515`` (first 4 and last 4)."""
    return _mask_middle(_clean(value).upper(), 4, 4, min_hidden=10)


def mask_uscc(value: str) -> str:
    """``91350100M000100Y43`` -> ``91************0Y43`` (first 2 and last 4)."""
    return _mask_middle(_clean(value).upper(), 2, 4, min_hidden=12)


def mask_mobile(value: str) -> str:
    """``13812345678`` -> ``138****5678`` (first 3 and last 4; country prefix dropped)."""
    return _mask_middle(_strip_mobile(value), 3, 4, min_hidden=4)


def mask_bank_card(value: str) -> str:
    """``6222021234567890123`` -> ``6222 **** **** 0123``.

    First 4 and last 4 digits; the middle is always shown as eight stars, so
    the card's length is not revealed either.
    """
    digits = _clean(value).replace("-", "")
    if not digits:
        return ""
    if len(digits) < 12:
        return "*" * len(digits)
    return f"{digits[:4]} **** **** {digits[-4:]}"


#: Word separators: kept, and the next character starts a new word.
_NAME_SEPARATORS = frozenset(" ·•・‧-")
#: Kept as they are inside a word (``O'Neil``, ``J.``), never starting a word.
_NAME_PUNCTUATION = frozenset("'’.")
_NAME_KEPT = _NAME_SEPARATORS | _NAME_PUNCTUATION


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3400 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3FFFF
    )


def mask_name(value: str) -> str:
    """Show only the first character of a Chinese name, the initials of other names.

    ``张三`` -> ``张*``, ``欧阳娜娜`` -> ``欧***``, ``John Smith`` -> ``J*** S****``.
    Separators (space, middle dot, hyphen) and apostrophes and full stops are kept.
    A name that the rule would reveal whole (``张``, ``J``) is masked entirely.
    """
    if not value:
        return ""
    name = " ".join(unicodedata.normalize("NFC", str(value)).split())
    if not name:
        return ""
    chinese = any(_is_cjk(c) for c in name)
    out = []
    shown_any = False
    at_word_start = True
    for ch in name:
        if ch in _NAME_KEPT:
            out.append(ch)
            at_word_start = at_word_start or ch in _NAME_SEPARATORS
            continue
        if (not shown_any if chinese else at_word_start):
            out.append(ch)
            shown_any = True
        else:
            out.append("*")
        at_word_start = False
    if "*" not in out:
        out = [c if c in _NAME_KEPT else "*" for c in name]
    return "".join(out)
