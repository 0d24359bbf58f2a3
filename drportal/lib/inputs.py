"""The one input boundary: every value that arrives from outside (the token API, inventory documents, scenario
YAML, forms) is checked here before it reaches the database or a parser that can be made to fail.

Each check raises InputError naming the field, so the caller answers 4xx with that field and writes nothing.
Why each rule exists:
- PostgreSQL text cannot hold NUL, and a lone surrogate (from a JSON "\\ud800" escape) cannot be encoded as
  UTF-8: both used to fail the INSERT with a server error;
- datetime() raises on impossible dates and offsets of ±24 h or more, and astimezone() overflows near
  years 1 and 9999: parsing is strict and ends in UTC;
- integers beyond PostgreSQL's column types fail the INSERT;
- json.loads and YAML composers recurse: depth is counted on the raw text before parsing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

SMALLINT_MAX = 2**15 - 1
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

# A backup (or any event we are told about) before this is a broken clock or an attack, not a fact.
FLOOR = datetime(2000, 1, 1, tzinfo=UTC)
# JSON bodies of the API nest three levels (a batch, a report, its location); documents a few more.
MAX_JSON_DEPTH = 20
MAX_YAML_DEPTH = 64

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_WHEN = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[T ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?P<offset>Z|z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)


class InputError(ValueError):
    """A refused value: `field` is the name the sender used, `message` a phrase completing "<field> ..."."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored, or None."""
    bad = _BAD_TEXT.search(value)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return "contains a NUL character"
    return "contains a lone surrogate (not valid Unicode text)"


def printable(value: str) -> str:
    """The text with NUL and lone surrogates replaced, for echoing a sender's key back in an error."""
    return _BAD_TEXT.sub("\ufffd", value)


def params_problem(params: Any) -> InputError | None:
    """The first query-string or form field (a QueryDict) that cannot be stored or searched for, or None."""
    for key, values in params.lists():
        problem = text_problem(key)
        if problem:
            return InputError(printable(key), f"(a parameter name) {problem}")
        for value in values:
            problem = text_problem(value) if isinstance(value, str) else None
            if problem:
                return InputError(key, problem)
    return None


def text(value: Any, field: str, *, max_length: int | None = None, required: bool = False) -> str:
    """A string that PostgreSQL can store: None and "" are "" (or refused when required)."""
    if value is None or value == "":
        if required:
            raise InputError(field, "is required")
        return ""
    if not isinstance(value, str):
        raise InputError(field, "must be a string")
    problem = text_problem(value)
    if problem:
        raise InputError(field, problem)
    if max_length is not None and len(value) > max_length:
        raise InputError(field, f"must be at most {max_length} characters")
    return value


def when(value: Any, field: str, *, floor: datetime | None = FLOOR, require_offset: bool = True) -> datetime:
    """An ISO 8601 date and time, parsed strictly, in UTC. Without an offset (when allowed) it is read as UTC."""
    if not isinstance(value, str):
        raise InputError(field, "must be an ISO 8601 time with a UTC offset (2026-11-21T10:00:00Z)")
    match = _WHEN.fullmatch(value.strip())
    if match is None:
        raise InputError(field, "must be an ISO 8601 time with a UTC offset (2026-11-21T10:00:00Z)")
    parts = match.groupdict()
    if parts["offset"] is None and require_offset:
        raise InputError(field, "must carry a UTC offset (Z or +hh:mm)")
    zone = _offset(parts["offset"], field)
    fraction = (parts["fraction"] or "0")[:6].ljust(6, "0")
    try:
        local = datetime(int(parts["year"]), int(parts["month"]), int(parts["day"]), int(parts["hour"]),
                         int(parts["minute"]), int(parts["second"] or 0), int(fraction), tzinfo=zone)
    except ValueError as exc:
        raise InputError(field, f"is not a real date and time ({exc})") from None
    try:
        utc = local.astimezone(UTC)
    except OverflowError:
        raise InputError(field, "is outside the years 1 to 9999 once converted to UTC") from None
    if floor is not None and utc < floor:
        raise InputError(field, f"is before {floor.date().isoformat()}: check the sender's clock")
    return utc


def _offset(text: str | None, field: str) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if minutes >= 60 or hours >= 24:
        raise InputError(field, "has a UTC offset outside ±23:59")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def integer(value: Any, field: str, *, minimum: int = 0, maximum: int = BIGINT_MAX) -> int:
    """A whole number (not a boolean, not a float) within [minimum, maximum]: by default a bigint >= 0."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(field, "must be a whole number")
    if not minimum <= value <= maximum:
        raise InputError(field, f"must be between {minimum} and {maximum}")
    return value


def nesting_depth(raw: str | bytes) -> int:
    """How deep brackets nest in a JSON (or flow YAML) text, strings excluded. Linear, no recursion: run
    before a recursive parser sees the text. Unbalanced brackets are the parser's business. Bytes all the
    way: a 2 MiB batch is scanned in a few milliseconds (str.translate with a mapping would call Python per
    character)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    # Strings may hold brackets: drop escaped backslashes, then escaped quotes, and every other piece between
    # quotes is inside a string. Right for any valid JSON, which is all json.loads will accept afterwards.
    outside = b"".join(raw.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')[0::2])
    brackets = outside.translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENING = frozenset(b"[{")


def load_json(raw: bytes | str, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH, field: str = "(body)") -> Any:
    """JSON text to data, refusing (InputError) a body too large, too deep, or not JSON, before it is parsed."""
    import json

    if len(raw) > max_bytes:
        raise InputError(field, f"is larger than {max_bytes} bytes")
    if nesting_depth(raw) > max_depth:
        raise InputError(field, f"nests deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError(field, "is not valid JSON") from None


def check_yaml_text(raw: str, *, max_bytes: int, max_depth: int = MAX_YAML_DEPTH, field: str = "(document)",
                    check_text: bool = True) -> None:
    """Refuse (InputError) a YAML text too large or nested too deeply to hand to a parser. Block nesting is
    bounded by indentation plus the "- " and ": " indicators a line opens; flow nesting by its brackets.
    check_text=False leaves NUL and surrogates to a caller that names the field they are in."""
    if len(raw) > max_bytes:
        raise InputError(field, f"is larger than {max_bytes} bytes")
    problem = text_problem(raw) if check_text else None
    if problem:
        raise InputError(field, problem)
    flow = nesting_depth(raw)
    if flow > max_depth:
        raise InputError(field, f"nests deeper than {max_depth} levels")
    for number, line in enumerate(raw.splitlines(), start=1):
        body = line.lstrip(" ")
        # Indentation counts one level per two spaces at most in any document a person writes.
        levels = (len(line) - len(body)) // 2 + body.count("- ") + body.count(": ")
        if levels > max_depth:
            raise InputError(f"line {number}", f"nests deeper than {max_depth} levels")
