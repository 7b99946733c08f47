"""Encryption of secrets that the application must read back, such as the signing secrets
of Stripe webhook endpoints.

The key is derived from SECRET_KEY with HKDF, one key per purpose, so a leaked database
alone reveals nothing. Values encrypted under a key listed in SECRET_KEY_FALLBACKS still
decrypt, so rotating SECRET_KEY the way Django documents it keeps stored secrets usable.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretDecryptionError(ValueError):
    """A stored secret could not be decrypted with SECRET_KEY or any of its fallbacks."""


def _fernet_for(secret_key: str, purpose: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"reptidex-success:{purpose}".encode(),
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _fernet(purpose: str) -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet_for(key, purpose) for key in keys])


def encrypt_secret(value: str, *, purpose: str) -> str:
    """Encrypt `value` under the current SECRET_KEY and return the token as text."""
    return _fernet(purpose).encrypt(value.encode()).decode()


def decrypt_secret(token: str, *, purpose: str) -> str:
    """Decrypt a token made by `encrypt_secret` for the same purpose."""
    try:
        return _fernet(purpose).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            f"A stored {purpose} secret could not be decrypted: SECRET_KEY changed without "
            "the old key in SECRET_KEY_FALLBACKS. Set the secret again."
        ) from None
