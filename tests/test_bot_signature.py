"""Signature checks against GitHub's documented test vector and against tampering."""

from __future__ import annotations

from bot.signature import sign, verify_signature

# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
EXPECTED = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_documented_vector():
    assert sign(SECRET, BODY) == EXPECTED
    assert verify_signature(SECRET, BODY, EXPECTED)


def test_any_change_to_body_secret_or_header_fails():
    assert not verify_signature(SECRET, BODY + b" ", EXPECTED)
    assert not verify_signature(SECRET + "!", BODY, EXPECTED)
    assert not verify_signature(SECRET, BODY, EXPECTED.replace("sha256=", "sha1="))
    assert not verify_signature(SECRET, BODY, EXPECTED[:-1] + "f")
    assert not verify_signature(SECRET, BODY, EXPECTED.upper())


def test_missing_header_or_empty_secret_never_verifies():
    assert not verify_signature(SECRET, BODY, None)
    assert not verify_signature(SECRET, BODY, "")
    assert not verify_signature("", BODY, sign("", BODY))


def test_non_ascii_header_is_rejected_not_crashing():
    assert not verify_signature(SECRET, BODY, "sha256=é")
