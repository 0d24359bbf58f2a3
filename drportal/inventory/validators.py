from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# RFC 1123 labels; a trailing dot (fully qualified) is allowed.
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
HOSTNAME_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$")


def validate_hostname(value: str) -> None:
    if not value or len(value) > 253 or not HOSTNAME_RE.match(value):
        raise ValidationError(f"{value!r} is not a valid host name")
