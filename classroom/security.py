"""Passwords (argon2) and bearer tokens (random, stored as SHA-256)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this when the user does not exist costs the same time as a real check,
# so response time does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


# argon2 takes tens of milliseconds of CPU by design: on the event loop six logins at once held up
# every kiosk tap behind them. A pool of its own runs them beside the loop (argon2-cffi lets go of
# the GIL while it hashes), leaving a core to the loop: a flood of logins waits its turn there.
_VERIFIERS = ThreadPoolExecutor(
    max_workers=max(1, min(4, (os.cpu_count() or 2) - 1)), thread_name_prefix="argon2"
)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_VERIFIERS, verify_password, password_hash, password)


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_VERIFIERS, hash_password, password)


def new_token(prefix: str) -> str:
    """A 256-bit random token; the prefix says what it is for when it turns up in a log or paste."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    # Tokens carry 256 bits of entropy, so a fast hash is enough and allows lookup by hash.
    return hashlib.sha256(token.encode()).hexdigest()
