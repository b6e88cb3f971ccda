"""TOTP (RFC 6238) against the RFC vectors and Debian's oathtool; recovery-code format and hashing."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pyotp
import pytest

from mdm_desktop.security import recovery, totp

REFERENCE = Path("/work/shared/reference/otp")
if not REFERENCE.exists():  # the reference copy may live beside the checkout
    REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "otp"
DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def load(name: str) -> dict[str, Any]:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"reference vectors not found at {path}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def at(unix: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix, dt.UTC)


# --- RFC vectors -------------------------------------------------------------------------------------------------


def test_rfc6238_vectors_all_modes_with_the_appendix_a_seeds() -> None:
    """All 18 values of Appendix B. Per the reference note, SHA-256/512 use 32/64-byte seeds."""
    doc = load("rfc6238_totp_vectors.json")
    assert len(doc["vectors"]) == 18
    for v in doc["vectors"]:
        seed = v["seed_ascii"].encode()
        assert base64.b32decode(v["seed_base32"]) == seed
        assert len(seed) == {"SHA1": 20, "SHA256": 32, "SHA512": 64}[v["mode"]]
        step = v["unix_time"] // doc["X_step_seconds"]
        assert f"{step:016X}" == v["T_hex"]
        code = pyotp.TOTP(v["seed_base32"], digits=8, digest=DIGESTS[v["mode"]], interval=30).at(v["unix_time"])
        assert code == v["totp"], v


def test_rfc6238_sha1_vectors_through_our_module() -> None:
    """The console uses SHA-1 and six digits: the last six digits of the 8-digit SHA-1 values."""
    doc = load("rfc6238_totp_vectors.json")
    sha1 = [v for v in doc["vectors"] if v["mode"] == "SHA1"]
    assert len(sha1) == 6
    for v in sha1:
        when = at(v["unix_time"])
        assert totp.code_at(v["seed_base32"], when) == v["totp"][-6:]
        assert totp.verify(v["seed_base32"], v["totp"][-6:], when) == v["unix_time"] // 30


def test_a_twenty_byte_key_does_not_give_the_sha256_column() -> None:
    """The pitfall in the reference note: the RFC prose (one 20-byte seed for every mode) is wrong."""
    twenty = base64.b32encode(b"12345678901234567890").decode()
    assert pyotp.TOTP(twenty, digits=8, digest=hashlib.sha256).at(59) == "32247374"
    assert pyotp.TOTP(twenty, digits=8, digest=hashlib.sha512).at(59) == "69342147"


def test_rfc4226_hotp_vectors_are_totp_at_step_n() -> None:
    doc = load("rfc4226_hotp_vectors.json")
    key = bytes.fromhex(doc["secret_hex"])
    for v in doc["vectors"]:
        mac = hmac.new(key, v["count"].to_bytes(8, "big"), hashlib.sha1).hexdigest()
        assert mac == v["hmac_sha1_hex"]
        assert totp.code_at_step(doc["secret_base32"], v["count"]) == v["hotp"]


# --- an independent implementation: oathtool ---------------------------------------------------------------------

OATHTOOL = shutil.which("oathtool")


@pytest.mark.skipif(OATHTOOL is None, reason="oathtool is not installed (apt-get install oathtool)")
@pytest.mark.parametrize("unix", [59, 1_111_111_109, 1_234_567_890, 1_764_000_000, 2_000_000_000, 4_102_444_799])
def test_codes_match_oathtool(unix: int) -> None:
    assert OATHTOOL is not None
    for secret in ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", totp.new_secret()):
        when = at(unix).strftime("%Y-%m-%d %H:%M:%S UTC")
        out = subprocess.run(
            [OATHTOOL, "--totp", "-b", "-d", "6", "-s", "30", "--now", when, secret],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == totp.code_at(secret, at(unix))


@pytest.mark.skipif(OATHTOOL is None, reason="oathtool is not installed (apt-get install oathtool)")
def test_oathtool_window_agrees_with_our_tolerance() -> None:
    """oathtool validates ours: the code for t+1 is found one step ahead, t+2 is not within -w 1."""
    assert OATHTOOL is not None
    secret = totp.new_secret()
    now = at(1_764_000_015)
    ahead = totp.code_at(secret, now + dt.timedelta(seconds=30))
    when = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    found = subprocess.run(
        [OATHTOOL, "--totp", "-b", "-w", "1", "--now", when, secret, ahead], capture_output=True, text=True
    )
    assert found.returncode == 0
    assert found.stdout.strip() == "1"
    assert totp.verify(secret, ahead, now) == totp.time_step(now) + 1


# --- verification rules ----------------------------------------------------------------------------------------


SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
NOW = at(1_764_000_015)


def test_one_step_of_tolerance_each_way() -> None:
    t = totp.time_step(NOW)
    for offset, accepted in ((-2, False), (-1, True), (0, True), (1, True), (2, False)):
        code = totp.code_at_step(SECRET, t + offset)
        assert (totp.verify(SECRET, code, NOW) == t + offset) is accepted, offset


def test_used_steps_are_refused() -> None:
    t = totp.time_step(NOW)
    code = totp.code_at(SECRET, NOW)
    assert totp.verify(SECRET, code, NOW, last_used_step=t - 1) == t
    assert totp.verify(SECRET, code, NOW, last_used_step=t) is None
    older = totp.code_at_step(SECRET, t - 1)
    assert totp.verify(SECRET, older, NOW, last_used_step=t) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "12 34 5", "١٢٣٤٥٦"])
def test_malformed_codes(typed: str) -> None:
    assert totp.verify(SECRET, typed, NOW) is None


def test_typed_code_may_have_spaces() -> None:
    code = totp.code_at(SECRET, NOW)
    assert totp.verify(SECRET, f" {code[:3]} {code[3:]} ", NOW) == totp.time_step(NOW)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        totp.time_step(dt.datetime(2026, 1, 1))


def test_new_secrets_are_160_bits_and_distinct() -> None:
    secrets = {totp.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for s in secrets:
        assert re.fullmatch(r"[A-Z2-7]{32}", s)
        assert len(base64.b32decode(s)) == 20


def test_provisioning_uri_and_qr() -> None:
    uri = totp.provisioning_uri(SECRET, "dr.o'neil@clinic")
    parsed = urllib.parse.urlparse(uri)
    assert parsed.scheme == "otpauth"
    assert parsed.netloc == "totp"
    assert urllib.parse.unquote(parsed.path) == "/MDM Desktop:dr.o'neil@clinic"
    params = urllib.parse.parse_qs(parsed.query)
    assert params["secret"] == [SECRET]
    assert params["issuer"] == ["MDM Desktop"]
    # Any standard authenticator: pyotp's own parser reads it back to the same generator.
    assert pyotp.parse_uri(uri).at(NOW) == totp.code_at(SECRET, NOW)
    shown = totp.enrolment(SECRET, "alice")
    assert shown.qr_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert shown.qr_svg.startswith("<svg")
    assert "<?xml" not in shown.qr_svg
    assert shown.secret_grouped == "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
    assert SECRET not in repr(shown)


# --- recovery and emergency codes -------------------------------------------------------------------------------


def test_recovery_codes_shape_and_uniqueness() -> None:
    codes = recovery.new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}", code)
        assert recovery.looks_like_recovery_code(code)
        assert totp.normalize_code(code) is None


def test_recovery_code_input_is_forgiving_but_strict_on_content() -> None:
    assert recovery.normalize("AB1C-D0EF-GH23") == "ab1cd0efgh23"
    assert recovery.normalize(" ab1c d0ef gh23 ") == "ab1cd0efgh23"
    assert recovery.normalize("abIc-dOef-gh23") == "ab1cd0efgh23"  # look-alikes
    assert recovery.normalize("ablc-d0ef-gh23") == "ab1cd0efgh23"
    for bad in ("", "abcd-efgh", "abcd-efgh-ijk!", "abcd-efgh-ijkl-mnop", "abcd-efgh-uuuu"):
        assert recovery.normalize(bad) is None, bad
    emergency = recovery.new_emergency_code()
    assert re.fullmatch(r"([0-9a-z]{4}-){4}[0-9a-z]{4}", emergency)
    assert recovery.normalize(emergency, recovery.EMERGENCY_GROUPS) is not None
    assert recovery.normalize(emergency) is None


def test_digest_uses_the_keyed_hash_of_the_canonical_form() -> None:
    key = b"k" * 32

    def keyed(canonical: str) -> bytes:
        return hmac.new(key, canonical.encode(), hashlib.sha256).digest()[:16]

    code = recovery.new_recovery_codes(1)[0]
    assert recovery.digest(code, keyed) == recovery.digest(code.upper().replace("-", ""), keyed)
    assert recovery.digest("not a code", keyed) is None
    assert recovery.digest(code, keyed) != keyed(code)
