"""The string formats of Google's discovery documents, parsed on the way in, written on the way out.

Inside the server, times are µs since the epoch and durations µs (names carry `_usec`);
on the wire they are RFC 3339 (`2030-01-01T00:00:00.500Z`) and `"3.500s"`, as Google writes them.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta, timezone

_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)
_DURATION = re.compile(r"(-)?(\d{1,12})(?:\.(\d{1,9}))?s", re.ASCII)
#: google.protobuf.Duration's range: about 10,000 years either way.
MAX_DURATION_SECONDS = 315_576_000_000
_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_datetime(text: str) -> int:
    """RFC 3339 with `Z` or an offset, 0 to 9 fraction digits -> µs since the epoch (ns dropped)."""
    match = _DATETIME.fullmatch(text)
    if not match:
        raise ValueError("must be an RFC 3339 time such as 2030-01-01T00:00:00Z")
    day, clock, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{'+00:00' if zone in 'Zz' else zone}")
    except ValueError:
        raise ValueError("is not a valid date and time") from None
    whole = (moment - _EPOCH) // timedelta(seconds=1)
    return whole * 1_000_000 + int((fraction or "0").ljust(9, "0")[:6])


def format_datetime(usec: int) -> str:
    """µs since the epoch -> RFC 3339 in UTC with 0, 3 or 6 fraction digits, as Google writes them."""
    seconds, micros = divmod(int(usec), 1_000_000)
    text = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return text + _fraction(micros) + "Z"


def parse_duration(text: str) -> int:
    """`"3600s"`, `"900.500s"`, `"0.1s"` -> µs (ns dropped)."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError('must be a duration in seconds such as "3.5s"')
    sign, whole, fraction = match.groups()
    if int(whole) > MAX_DURATION_SECONDS:
        raise ValueError(f"is longer than the longest duration, {MAX_DURATION_SECONDS}s")
    usec = int(whole) * 1_000_000 + int((fraction or "0").ljust(9, "0")[:6])
    return -usec if sign else usec


def format_duration(usec: int) -> str:
    """µs -> `"3600s"`, `"0.100s"` (0, 3 or 6 fraction digits)."""
    sign = "-" if usec < 0 else ""
    seconds, micros = divmod(abs(int(usec)), 1_000_000)
    return f"{sign}{seconds}{_fraction(micros)}s"


def _fraction(micros: int) -> str:
    if micros == 0:
        return ""
    if micros % 1000 == 0:
        return f".{micros // 1000:03d}"
    return f".{micros:06d}"


def parse_field_mask(text: str) -> list:
    """`"rateLimits.maxDispatchesPerSecond,retryConfig"` -> the paths, in order."""
    paths = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in paths if not _FIELD_PATH.fullmatch(p)]
    if bad:
        raise ValueError(f"is not a field mask: {bad[0]!r} is not a field path")
    return paths


def parse_bytes(text: str) -> bytes:
    """Base64 in the standard or URL-safe alphabet, padding optional."""
    compact = re.sub(r"\s+", "", text)
    standard = compact.translate(str.maketrans("-_", "+/"))
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None


def format_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


#: format -> parser of the wire string; each raises ValueError with the reason.
PARSERS = {"google-datetime": parse_datetime, "google-duration": parse_duration,
           "google-fieldmask": parse_field_mask, "byte": parse_bytes}
#: format -> writer of the Python value, for answers.
WRITERS = {"google-datetime": format_datetime, "google-duration": format_duration,
           "google-fieldmask": ",".join, "byte": format_bytes}
