"""How tasks read for people: times, ages and payload previews (dashboard and CLI)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

PREVIEW_BYTES = 4096


def when(usec: int) -> str:
    """A µs timestamp as UTC date and time; '-' for 0."""
    if not usec:
        return "-"
    return datetime.fromtimestamp(usec / 1e6, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def relative(usec: int, now_usec: int) -> str:
    """'3 min ago' or 'in 20 s'; '-' for 0."""
    if not usec:
        return "-"
    delta = (usec - now_usec) / 1e6
    amount = abs(delta)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if amount >= size or unit == "s":
            text = f"{amount / size:.0f} {unit}"
            break
    return f"in {text}" if delta > 0 else f"{text} ago"


def age(usec: int, now_usec: int) -> str:
    """How long ago `usec` was, without the 'ago': '3 min'; '-' for 0."""
    return "-" if not usec else relative(usec, now_usec).removesuffix(" ago").removeprefix("in ")


def _reject(value):
    raise ValueError(value)


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def preview(payload: bytes) -> tuple:
    """(kind, text): pretty JSON, plain text, or a hex dump for binary payloads (first 4 KiB)."""
    kind, text = _preview(payload[3:] if payload.startswith(b"\xef\xbb\xbf") else payload)
    if len(payload) > PREVIEW_BYTES and kind != "json":
        text += f"\n… {len(payload) - PREVIEW_BYTES} more bytes not shown"
    return kind, text


def _preview(payload: bytes) -> tuple:
    head = payload[:PREVIEW_BYTES]
    try:
        text = payload.decode("utf-8") if len(payload) <= PREVIEW_BYTES else head.decode("utf-8", "ignore")
    except UnicodeDecodeError:
        text = None
    if text is not None and (text.isprintable() or all(c.isprintable() or c in "\r\n\t" for c in text)):
        try:
            return "json", json.dumps(json.loads(payload, parse_constant=_reject,
                                                 parse_float=lambda f: _finite(f)), indent=2, ensure_ascii=False)
        except ValueError:
            return "text", text
    lines = []
    for offset in range(0, len(head), 16):
        chunk = head[offset:offset + 16]
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {chunk.hex(' '):<47}  {ascii_}")
    return "hex", "\n".join(lines)
