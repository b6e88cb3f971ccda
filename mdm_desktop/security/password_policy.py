"""Password policy after NIST SP 800-63B rev. 4 (section 3.1.1.2), with a strength meter.

- Length: at least 12 characters by default. A site may raise the minimum, never
  below 8 (acceptable because a TOTP code is always required as a second factor).
  Up to :data:`MAX_LENGTH` characters are accepted (NIST: at least 64) and nothing
  is ever truncated.
- Unicode: the password is normalised with NFKC on set and on check
  (:func:`mdm_desktop.domain.accounts.normalize_password`, used by the hasher too), so
  the same characters typed on another keyboard still match. Spaces are allowed.
- Blocklist: the zxcvbn estimator (its frequency lists hold the common passwords of
  public breaches, dictionary words, names, keyboard patterns, dates and l33t
  variants) must rate the password at least :data:`MIN_SCORE` ("safely
  unguessable"); context-specific words (the user name, the clinic's name, the
  person's name) are given to zxcvbn and are also refused outright when the password
  is built on them.
- Composition rules (upper, lower, digit, symbol) are *off* by default, as NIST
  advises; a clinic whose written policy demands them can switch them on.

The estimator looks at the first 72 characters only (zxcvbn's limit); the password
itself is never shortened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from zxcvbn import zxcvbn as _zxcvbn

from mdm_desktop.domain.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, normalize_password

ABSOLUTE_MIN_LENGTH = 8
MAX_MIN_LENGTH = 64
MAX_LENGTH = MAX_PASSWORD_LENGTH
MIN_SCORE = 3
ESTIMATOR_MAX_CHARS = 72
_MIN_CONTEXT_WORD = 4

SCORE_LABELS = ("Very weak", "Weak", "Fair", "Strong", "Very strong")

COMPOSITION_EXPLANATION = (
    "When on, every new password must contain an upper-case letter, a lower-case letter, a digit and a "
    "symbol. NIST SP 800-63B advises against such rules (people answer them with predictable patterns "
    "like 'Summer2025!'); switch them on only if your clinic's written policy requires them. Length and "
    "the check against common passwords apply either way."
)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The site's password rules.

    Args:
        min_length: Minimum number of characters after normalisation (8 to 64; default 12).
        require_composition: Demand upper, lower, digit and symbol (off by default).
    """

    min_length: int = MIN_PASSWORD_LENGTH
    require_composition: bool = False

    def __post_init__(self) -> None:
        if not ABSOLUTE_MIN_LENGTH <= self.min_length <= MAX_MIN_LENGTH:
            raise ValueError(f"The minimum password length must be between {ABSOLUTE_MIN_LENGTH} and {MAX_MIN_LENGTH}.")


@dataclass(frozen=True, slots=True)
class PasswordStrength:
    """What the strength meter shows.

    Attributes:
        score: 0 (very weak) to 4 (very strong), zxcvbn's scale.
        label: The score in words.
        warning: Why the password is weak (may be empty).
        suggestions: How to make it stronger.
    """

    score: int
    label: str
    warning: str
    suggestions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PasswordAssessment:
    """A password checked against the policy.

    Attributes:
        problems: Plain-words reasons it is refused; empty when acceptable.
        strength: The meter's reading.
    """

    problems: tuple[str, ...]
    strength: PasswordStrength

    @property
    def acceptable(self) -> bool:
        """True when the password may be set."""
        return not self.problems


def context_words(*values: str) -> tuple[str, ...]:
    """Words a password must not be built on, from user name, clinic name, person's name.

    Each value contributes its compact form (letters and digits only, three or more
    characters) and each of its parts of four or more characters.
    """
    words: list[str] = []
    for value in values:
        folded = normalize_password(value).casefold().strip()
        if not folded:
            continue
        compact = re.sub(r"[\W_]+", "", folded)
        if len(compact) >= _MIN_CONTEXT_WORD - 1:
            words.append(compact)
        for part in re.split(r"[\W_]+", folded):
            if len(part) >= _MIN_CONTEXT_WORD and part not in words:
                words.append(part)
    return tuple(words)


def strength(password: str, context: Sequence[str] = ()) -> PasswordStrength:
    """The meter's reading for ``password`` (zxcvbn), ``context`` being user name, clinic name, ...

    Cheap enough (a few milliseconds) to call on every key press from a worker.
    """
    if not password:
        return PasswordStrength(0, SCORE_LABELS[0], "", ("Enter a password.",))
    result = _estimate(normalize_password(password), context_words(*context))
    feedback = result.get("feedback") or {}
    score = int(result["score"])
    return PasswordStrength(
        score=score,
        label=SCORE_LABELS[score],
        warning=str(feedback.get("warning") or ""),
        suggestions=tuple(str(s) for s in feedback.get("suggestions") or ()),
    )


def assess(
    password: str,
    policy: PasswordPolicy,
    *,
    username: str,
    clinic_name: str = "",
    display_name: str = "",
) -> PasswordAssessment:
    """Check ``password`` against ``policy`` and rate it.

    Args:
        password: As typed; normalised here with NFKC (the hasher does the same).
        policy: The site's rules.
        username: The account's name; a password built on it is refused.
        clinic_name: The site's name; a password built on it is refused.
        display_name: The person's name; a password built on it is refused.

    Returns:
        Problems (empty when acceptable) and the strength reading.
    """
    pw = normalize_password(password)
    problems: list[str] = []
    if len(pw) < policy.min_length:
        problems.append(f"Use at least {policy.min_length} characters.")
    if len(pw) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    if policy.require_composition:
        missing = [
            name
            for name, present in (
                ("an upper-case letter", any(c.isupper() for c in pw)),
                ("a lower-case letter", any(c.islower() for c in pw)),
                ("a digit", any(c.isdigit() for c in pw)),
                ("a symbol", any(not c.isalnum() and not c.isspace() for c in pw)),
            )
            if not present
        ]
        if missing:
            problems.append("Include " + _join(missing) + " (your site's policy).")
    words = context_words(username, clinic_name, display_name)
    result: dict[str, Any] = _estimate(pw, words) if pw else {"score": 0, "sequence": [], "feedback": {}}
    if _built_on(pw, words, result):
        problems.append("Do not build the password on your user name, your name or the clinic's name.")
    score = int(result["score"])
    feedback = result.get("feedback") or {}
    warning = str(feedback.get("warning") or "")
    if pw and len(pw) >= policy.min_length and score < MIN_SCORE and not problems:
        reason = warning.rstrip(".") if warning else "It is too easy to guess"
        problems.append(f"{reason}. Choose a longer or less common password, for example a few unrelated words.")
    if problems:
        # The meter must not call a refused password strong.
        score = min(score, MIN_SCORE - 1)
    meter = PasswordStrength(
        score=score,
        label=SCORE_LABELS[score],
        warning=warning,
        suggestions=tuple(str(s) for s in feedback.get("suggestions") or ()),
    )
    return PasswordAssessment(problems=tuple(problems), strength=meter)


def _estimate(pw: str, words: Iterable[str]) -> dict[str, Any]:
    result: dict[str, Any] = _zxcvbn(pw[:ESTIMATOR_MAX_CHARS], user_inputs=list(words))
    return result


def _built_on(pw: str, words: Sequence[str], result: dict[str, Any]) -> bool:
    folded = re.sub(r"[\W_]+", "", pw.casefold())
    if any(word in folded for word in words):
        return True
    # zxcvbn also finds l33t and reversed forms of the context words.
    return any(
        match.get("pattern") == "dictionary"
        and match.get("dictionary_name") == "user_inputs"
        and len(str(match.get("token", ""))) >= _MIN_CONTEXT_WORD
        for match in result.get("sequence", ())
    )


def _join(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]
