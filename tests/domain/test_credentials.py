"""Usernames and the password policy of online-service accounts (A3)."""

from __future__ import annotations

import time

import pytest

from domain.credentials import (
    PASSWORD_MAX_LENGTH,
    InvalidUsername,
    PasswordTooLong,
    WeakPassword,
    check_chosen_password,
    check_password_length,
    normalise_username,
)


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("p12345678", "p12345678"),
        ("Zhang.Wei-01", "zhang.wei-01"),
        ("  abc  ", "abc"),
        ("a_b", "a_b"),
        ("x" * 32, "x" * 32),
    ],
)
def test_a_username_is_stored_lower_case(raw: str, stored: str) -> None:
    assert normalise_username(raw) == stored


@pytest.mark.parametrize("raw", ["", "ab", "x" * 33, "x" * 1_000_000])
def test_a_username_has_3_to_32_characters(raw: str) -> None:
    with pytest.raises(InvalidUsername, match="3 to 32 characters"):
        normalise_username(raw)


@pytest.mark.parametrize(
    "raw, position",
    [
        ("张伟abc", 1),
        ("abc def", 4),
        ("abc\x1b[2J", 4),
        ("ab\x00cd", 3),
        ("abc;drop", 4),
        ("ａｂｃ", 1),  # full-width letters look alike but are other characters
    ],
)
def test_odd_characters_are_refused_without_being_repeated(raw: str, position: int) -> None:
    with pytest.raises(InvalidUsername) as refused:
        normalise_username(raw)
    message = str(refused.value)
    assert f"Character {position}" in message
    assert raw.strip() not in message
    assert message.isprintable()


def test_a_username_and_a_password_are_str() -> None:
    with pytest.raises(TypeError):
        normalise_username(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        check_password_length(b"abcdefg1")  # type: ignore[arg-type]


@pytest.mark.parametrize("password", ["abcdefg1", "1234567a", "长城长城长城长城8", "Pass word 9", "x1" * 64])
def test_acceptable_passwords(password: str) -> None:
    check_chosen_password(password, "p12345678")


@pytest.mark.parametrize(
    "password, reason",
    [
        ("abc1234", "at least 8"),
        ("abcdefgh", "letter and one digit"),
        ("12345678", "letter and one digit"),
        ("abc\t12345", "control"),
        ("abc\u200b12345", "control"),
        ("abc\ud80012345", "control"),
        ("zhang.wei01", "cannot be the username"),
        ("ZHANG.WEI01", "cannot be the username"),
    ],
)
def test_weak_passwords_are_refused(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason):
        check_chosen_password(password, "zhang.wei01")


def test_128_characters_at_most() -> None:
    check_chosen_password("a1" * 64, "p12345678")
    with pytest.raises(PasswordTooLong, match="at most 128"):
        check_chosen_password("a1" * 64 + "x", "p12345678")


def test_a_megabyte_is_refused_at_once_without_being_repeated() -> None:
    megabyte = "a1" * 524_288
    started = time.perf_counter()
    with pytest.raises(PasswordTooLong) as refused:
        check_password_length(megabyte)
    assert time.perf_counter() - started < 0.01
    assert str(refused.value) == f"A password has at most {PASSWORD_MAX_LENGTH} characters."
