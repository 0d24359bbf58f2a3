"""Encryption of stored secrets (cloud credentials) with a key from the environment.

Fernet (AES-128-CBC + HMAC) from `cryptography`: authenticated, versioned, and the key rotates with
MultiFernet. The key never lives in the database; without DRPORTAL_FERNET_KEYS a stored secret
cannot be read back, only replaced.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnavailable(Exception):
    pass


def _fernet() -> MultiFernet:
    keys = list(settings.FERNET_KEYS)
    if not keys:
        # Derived from SECRET_KEY so a development install works; production sets FERNET_KEYS.
        digest = hashlib.sha256(("drportal-fernet:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable("stored secret cannot be decrypted with the configured keys") from None


def mask(value: str) -> str:
    """What a page may show of a secret: its length class and last two characters, never more."""
    if not value:
        return ""
    return "•" * 8 + value[-2:] if len(value) > 8 else "•" * 8
