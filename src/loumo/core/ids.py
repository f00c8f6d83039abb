"""Identifiers: time-ordered UUIDs (version 7 layout) as 32 hex characters.

Ordered ids keep B-tree inserts local and let keyset pagination order by id alone.
"""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    """A UUIDv7: 48 bits of Unix milliseconds, then random bits, version and variant set."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80 | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value).hex
