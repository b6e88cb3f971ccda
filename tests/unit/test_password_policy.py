"""Password policy after NIST SP 800-63B rev. 4, and the strength meter's reading."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from mdm_desktop.domain.accounts import password_problems
from mdm_desktop.security.password_policy import (
    COMPOSITION_EXPLANATION,
    MAX_LENGTH,
    MIN_SCORE,
    PasswordPolicy,
    assess,
    context_words,
    strength,
)
from mdm_desktop.security.passwords import PasswordHashing

DEFAULT = PasswordPolicy()
GOOD = "correct horse battery staple"


def problems(password: str, policy: PasswordPolicy = DEFAULT, **context: str) -> tuple[str, ...]:
    context.setdefault("username", "bob")
    return assess(password, policy, **context).problems


def test_length_default_12_site_may_raise_never_below_8() -> None:
    assert DEFAULT.min_length == 12
    assert problems("blue ferry 9") == ()  # 12 characters, not common
    assert "at least 12" in problems("blue ferry9")[0]
    assert "at least 16" in problems("blue ferry 9", PasswordPolicy(min_length=16))[0]
    assert problems("kx7#vq2!Lm", PasswordPolicy(min_length=8)) == ()
    assert problems("kx7#vq2!Lm") != ()
    for bad in (7, 0, 65):
        with pytest.raises(ValueError, match="between 8 and 64"):
            PasswordPolicy(min_length=bad)


def test_long_passwords_are_allowed_and_never_truncated() -> None:
    long_pw = "purple ferry staple lamp " * 8  # 200 characters
    assert len(long_pw) == 200
    assert problems(long_pw[:64]) == ()
    assert problems(long_pw) == ()
    assert any("at most" in p for p in problems("x" * (MAX_LENGTH + 1)))
    hasher = PasswordHashing(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    stored = hasher.hash(long_pw)
    assert hasher.verify(stored, long_pw)
    assert not hasher.verify(stored, long_pw[:72])  # bcrypt would have cut here; Argon2 does not
    assert not hasher.verify(stored, long_pw[:-1])


def test_unicode_is_normalised_the_same_on_set_and_check() -> None:
    hasher = PasswordHashing(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    full_width = "ｐｕｒｐｌｅ ｓｔａｐｌｅ ｆｅｒｒｙ"
    ascii_form = "purple staple ferry"
    assert hasher.verify(hasher.hash(full_width), ascii_form)
    assert hasher.verify(hasher.hash(ascii_form), full_width)
    composed, decomposed = "café crème brûlée x", "cafe\u0301 cre\u0300me bru\u0302le\u0301e x"
    assert hasher.verify(hasher.hash(composed), decomposed)
    assert problems(full_width) == problems(ascii_form) == ()


@pytest.mark.parametrize("common", ["password1234", "qwertyuiop12", "Letmein12345", "Admin12345678", "iloveyou1234"])
def test_common_passwords_are_refused(common: str) -> None:
    found = problems(common)
    assert len(found) == 1
    assert "guess" in found[0] or "common" in found[0]


def test_derived_from_user_name_clinic_or_person_is_refused() -> None:
    assert problems("margaret.okafor2026!", username="margaret.okafor")
    assert problems("m4rg4r3t-0k4f0r-rules", username="margaret.okafor")  # l33t, found by zxcvbn
    assert problems("rofako.teragram 99", username="margaret.okafor") != ()  # reversed
    assert problems("riverside-family-2026", clinic_name="Riverside Family Clinic")
    assert problems("Riversidefamilyclinic!", clinic_name="Riverside Family Clinic")
    assert problems("okafor ward lantern", display_name="Michael Okafor")
    assert problems("okafor ward lantern") == ()
    message = problems("riverside-family-2026", clinic_name="Riverside Family Clinic")[0]
    assert "clinic" in message


def test_context_words() -> None:
    assert context_words("margaret.okafor", "St. Mary's Clinic") == (
        "margaretokafor",
        "margaret",
        "okafor",
        "stmarysclinic",
        "mary",
        "clinic",
    )
    assert context_words("", "  ") == ()


def test_composition_rules_are_off_by_default_and_explained() -> None:
    assert not DEFAULT.require_composition
    assert problems(GOOD) == ()
    strict = PasswordPolicy(require_composition=True)
    found = problems(GOOD, strict)
    assert found == ("Include an upper-case letter, a digit and a symbol (your site's policy).",)
    assert problems("Correct horse battery staple 9!", strict) == ()
    assert "NIST" in COMPOSITION_EXPLANATION


def test_strength_meter() -> None:
    weak, strong = strength("abc"), strength(GOOD)
    assert weak.score < MIN_SCORE <= strong.score
    assert strong.score == 4
    assert strong.label == "Very strong"
    assert strength("").score == 0
    common = strength("password1234")
    assert common.warning
    assert common.suggestions
    # A refused password is never shown as strong.
    verdict = assess("riverside-family-2026", DEFAULT, username="bob", clinic_name="Riverside Family Clinic")
    assert not verdict.acceptable
    assert verdict.strength.score < MIN_SCORE
    assert (
        strength("riverside-family-2026", ["bob", "Riverside Family Clinic"]).score
        <= strength("riverside-family-2026").score
    )


def test_the_domain_check_keeps_working() -> None:
    assert password_problems("short", "bob")
    assert password_problems("alice-is-my-password", "alice")
    assert password_problems("purple staple ferry 9", "bob") == []
