"""The secrets of online access (A3, A4): argon2 password hashes, random credentials, their digests.

Passwords are kept only as argon2id hashes; tokens and device credentials, being long random
strings, only as their SHA-256 digest (a fast hash suffices when guessing is hopeless).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id with the RFC 9106 low-memory profile (3 passes, 64 MiB, 4 lanes): about 0.1 s a hash.
PASSWORD_HASHER = PasswordHasher()

# Hashing runs off the event loop, at most one hash per core at a time so that a burst of logins
# before the 20th queues here instead of taking 64 MiB per request all at once.
_HASHING = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")

# Read from a printed slip: no 0/O, no 1/l/I.
READABLE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
INITIAL_PASSWORD_LENGTH = 10
CERTIFICATE_PASSWORD_LENGTH = 8
RANDOM_BYTES = 32  # tokens and device credentials: secrets.token_urlsafe(32), 43 characters
RANDOM_TEXT_LENGTH = 43

_dummy_hash: str | None = None

T = TypeVar("T")


async def _off_loop(function: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, function, *args)


def _utf8(secret: str) -> bytes:
    # A JSON string may carry a lone surrogate: it must fail to match, not fail to encode.
    return secret.encode("utf-8", "surrogatepass")


def _hash(secret: str) -> str:
    return PASSWORD_HASHER.hash(_utf8(secret))


def _verify(stored_hash: str, secret: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(stored_hash, _utf8(secret))
    except (VerificationError, InvalidHashError):
        return False


async def hash_secret(secret: str) -> str:
    """The argon2 hash of a password or certificate password, with the current parameters."""
    return await _off_loop(_hash, secret)


async def secret_matches(stored_hash: str | None, secret: str) -> bool:
    """Whether ``secret`` matches; without a stored hash, the same work is done against a dummy,
    so that an unknown username answers in the time a wrong password does."""
    matched = await _off_loop(_verify, stored_hash or await _current_dummy_hash(), secret)
    return matched and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with other parameters than the current ones (it is then redone)."""
    try:
        return PASSWORD_HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


async def _current_dummy_hash() -> str:
    global _dummy_hash
    if _dummy_hash is None or needs_rehash(_dummy_hash):
        _dummy_hash = await hash_secret(secrets.token_urlsafe(RANDOM_BYTES))
    return _dummy_hash


def digest(secret: str) -> str:
    """SHA-256 in hex (64 characters): how tokens and device credentials are stored and found."""
    return hashlib.sha256(secret.encode()).hexdigest()


def random_credential() -> str:
    """A session token or a device credential."""
    return secrets.token_urlsafe(RANDOM_BYTES)


def looks_like_random_credential(text: str) -> bool:
    """A cheap shape check before hashing and querying: 43 URL-safe base64 characters."""
    return (
        isinstance(text, str)
        and len(text) == RANDOM_TEXT_LENGTH
        and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in text)
    )


def readable_secret(length: int) -> str:
    """A random password for a printed slip, with a letter and a digit so that it meets the policy."""
    while True:
        secret = "".join(secrets.choice(READABLE_ALPHABET) for _ in range(length))
        if any(ch.isdigit() for ch in secret) and any(ch.isalpha() for ch in secret):
            return secret


def initial_password() -> str:
    return readable_secret(INITIAL_PASSWORD_LENGTH)


def certificate_password() -> str:
    return readable_secret(CERTIFICATE_PASSWORD_LENGTH)
