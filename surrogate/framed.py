"""One file = a magic line, one line of JSON header, then a payload: how nasscout's own model files are framed.

Predictor files (``predictors/io.py``) and surrogate files (``surrogate/fitted.py``) share it. The header
declares the payload's size and SHA-256, so a truncated or altered file is refused before anything reads the
payload, and nothing in the frame can run code (JSON only).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from surrogate.atomic import atomic_write
from surrogate.errors import NasscoutError


def write_framed(
    path: str | os.PathLike, magic: bytes, header: dict[str, Any], payload: bytes
) -> dict:
    """Write ``magic``, ``header`` (plus the payload's size and checksum) and ``payload`` atomically."""
    header = {
        **header,
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    line = json.dumps(header, allow_nan=False).encode()
    atomic_write(Path(path), magic + line + b"\n" + payload)
    return header


def read_framed(
    path: str | os.PathLike,
    magic: bytes,
    *,
    missing: str,
    foreign: Callable[[Path, bytes], str],
    check_header: Callable[[Path, dict[str, Any]], None],
    hint: str,
    noun: str = "",
    error: type[NasscoutError] = NasscoutError,
) -> tuple[dict[str, Any], bytes]:
    """(header, payload), checked in this order: present, magic, header JSON, ``check_header`` (schema
    and version, so an old file gets its own message), payload size, checksum. ``missing`` and ``foreign``
    give the first two messages; ``hint`` ends the others ("copy or fit it again")."""
    p = Path(path)
    if not p.is_file():
        raise error(missing.format(path=str(p)))
    data = p.read_bytes()
    if not data.startswith(magic):
        raise error(foreign(p, data))
    end = data.find(b"\n", len(magic))
    try:
        if end < 0:
            raise ValueError("no end of header")
        header = json.loads(data[len(magic) : end])
        declared = int(header["payload_bytes"])
    except (ValueError, KeyError, TypeError):
        raise error(f"{p} is truncated or damaged: its header is unreadable; {hint}") from None
    check_header(p, header)
    payload = data[end + 1 :]
    if len(payload) != declared:
        what = f"{noun} bytes" if noun else "bytes"
        raise error(f"{p} is truncated: {len(payload)} of {declared} {what} present; {hint}")
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise error(f"{p} is damaged or altered: checksum mismatch; {hint}")
    return header, payload
