"""Token encryption at rest: MultiFernet, each ciphertext bound to its row.

The plaintext is JSON `{"u": <user id>, "k": <"access"|"refresh">, "t": <token>}`,
so a ciphertext copied to another user's row, or from the refresh column to
the access column, fails to decrypt like a wrong key does.
"""

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured

from canvas_oauth import conf
from canvas_oauth.exceptions import TokenDecryptionFailed

logger = logging.getLogger(__name__)


class TokenKind(StrEnum):
    """Which of a connection's two tokens a ciphertext holds (bound into it)."""

    ACCESS = "access"
    REFRESH = "refresh"


KINDS = tuple(kind.value for kind in TokenKind)


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet_get() -> MultiFernet:
    """Return the MultiFernet over TOKEN_ENCRYPTION_KEYS (first key encrypts)."""
    keys = tuple(conf.encryption_keys())
    if not keys:
        raise ImproperlyConfigured("Set the TOKEN_ENCRYPTION_KEYS environment variable.")
    try:
        return _multifernet(keys)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "TOKEN_ENCRYPTION_KEYS holds a malformed key (each must be a urlsafe-base64 "
            "32-byte Fernet key)."
        ) from exc


def token_encrypt(*, user_id: int, kind: TokenKind, token: str) -> str:
    """Return the ciphertext (text) of `token` bound to user `user_id` and `kind`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    plaintext = json.dumps({"u": user_id, "k": kind, "t": token}, separators=(",", ":"))
    return fernet_get().encrypt(plaintext.encode()).decode()


def token_decrypt(*, user_id: int, kind: TokenKind, ciphertext: str) -> str:
    """Return the token in `ciphertext`; raise TokenDecryptionFailed if it is not this row's."""
    try:
        plaintext = fernet_get().decrypt(ciphertext.encode())
        payload = json.loads(plaintext)
        ok = (
            isinstance(payload, dict)
            and payload.get("u") == user_id
            and payload.get("k") == kind
            and isinstance(payload.get("t"), str)
        )
    except (InvalidToken, ValueError, TypeError):
        ok = False
        reason = "no key in TOKEN_ENCRYPTION_KEYS decrypts it"
    else:
        reason = "it belongs to another row"
    if not ok:
        # An alert: either the keys are misconfigured or a row was tampered with.
        logger.error(
            "ALERT: cannot decrypt the Canvas %s token of user id %s: %s",
            kind,
            user_id,
            reason,
        )
        raise TokenDecryptionFailed()
    return payload["t"]


def ciphertext_rotate(*, ciphertext: str) -> str:
    """Return `ciphertext` re-encrypted under the first key (any key may decrypt it)."""
    try:
        return fernet_get().rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise TokenDecryptionFailed() from exc


def ciphertext_is_current(*, ciphertext: str) -> bool:
    """Return whether `ciphertext` is already encrypted under the first key."""
    first = conf.encryption_keys()[0]
    try:
        Fernet(first.encode()).decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True


@dataclass(frozen=True)
class KeyProblem:
    """One thing wrong with TOKEN_ENCRYPTION_KEYS: its system check id and a sentence."""

    check_id: str
    message: str


def keys_problems() -> list[KeyProblem]:
    """Return what is wrong with TOKEN_ENCRYPTION_KEYS (never the key values)."""
    keys = conf.encryption_keys()
    if not keys:
        return [KeyProblem("E001", "TOKEN_ENCRYPTION_KEYS is missing or empty.")]
    problems = []
    for index, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            problems.append(
                KeyProblem(
                    "E002",
                    f"TOKEN_ENCRYPTION_KEYS key #{index} is malformed (not a urlsafe-base64 "
                    "32-byte Fernet key).",
                )
            )
    return problems
