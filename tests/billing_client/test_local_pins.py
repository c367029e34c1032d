"""PIN hashing: argon2id, salted, and verification that never raises."""

from __future__ import annotations

import pytest

from billing_client.pins import hash_pin, valid_pin, verify_pin


@pytest.mark.parametrize("pin", ["0000", "1234", "12345678", "007007"])
def test_valid_pins(pin: str) -> None:
    assert valid_pin(pin)


@pytest.mark.parametrize(
    "pin",
    [
        "",
        "123",
        "123456789",
        "12a4",
        " 1234",
        "1234 ",
        "1234\n",
        "١٢٣٤",
        "１２３４",
        "-123",
        None,
        1234,
    ],
)
def test_invalid_pins(pin: object) -> None:
    assert not valid_pin(pin)


def test_hash_then_verify() -> None:
    stored = hash_pin("4821")
    assert stored.startswith("$argon2id$")
    assert "4821" not in stored
    assert verify_pin(stored, "4821")
    assert not verify_pin(stored, "4822")
    assert not verify_pin(stored, "48210")


def test_hashes_are_salted() -> None:
    assert hash_pin("4821") != hash_pin("4821")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "$argon2id$v=19$m=65536,t=3,p=4$AAAA$BBBB",
        "$argon2id$v=19$m=65536,t=3,p=4$",
        "$2b$12$abcdefghijklmnopqrstuu5s2v8.yXnCu9Ga9wzrC2Qvo2TNyd2Fi",
    ],
)
def test_verify_never_raises_on_a_malformed_hash(stored: str) -> None:
    assert verify_pin(stored, "1234") is False


def test_verify_rejects_a_malformed_pin_without_hashing() -> None:
    stored = hash_pin("1234")
    assert verify_pin(stored, "1234\n") is False
    assert verify_pin(stored, "") is False


def test_hash_refuses_a_malformed_pin() -> None:
    with pytest.raises(ValueError, match="4 to 8 digits"):
        hash_pin("12")
