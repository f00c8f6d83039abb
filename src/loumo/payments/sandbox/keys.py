"""The sandbox's callback signing key: from settings, else generated once into `var/`."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from loumo.core.settings import Settings
from loumo.payments.providers.signatures import (
    PrivateKey,
    PublicKey,
    generate_private_key,
    load_private_key,
    private_pem,
)

KEY_ID = "loumo-sandbox"
KEY_FILE = "pawapay_sandbox_key.pem"


def sandbox_private_key(settings: Settings) -> PrivateKey:
    if settings.pawapay_sandbox_signing_key:
        return _from_pem(settings.pawapay_sandbox_signing_key.get_secret_value().encode())
    return _from_file(settings.var_dir / KEY_FILE)


def sandbox_public_key(settings: Settings) -> PublicKey:
    return sandbox_private_key(settings).public_key()


@lru_cache(maxsize=8)
def _from_pem(pem: bytes) -> PrivateKey:
    return load_private_key(pem)


@lru_cache(maxsize=8)
def _from_file(path: Path) -> PrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = private_pem(generate_private_key())
        # Created exclusively: of two processes racing, the second reads the first one's key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    return load_private_key(path.read_bytes())
