"""WCAG AA contrast of the stylesheet's colour pairs, computed from the CSS itself (WCAG 2.1 formula)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "drportal.css"

# (foreground, background, minimum): 4.5 for text, 3 for focus rings and other non-text contrast.
PAIRS = [
    ("--fg", "--bg", 4.5), ("--muted", "--bg", 4.5), ("--accent", "--bg", 4.5),
    ("--ok", "--bg", 4.5), ("--warn", "--bg", 4.5), ("--bad", "--bg", 4.5),
    ("--fg", "--th-bg", 4.5), ("--ok", "--th-bg", 4.5), ("--warn", "--th-bg", 4.5), ("--bad", "--th-bg", 4.5),
    ("--accent", "--th-bg", 4.5), ("--muted", "--th-bg", 4.5),
    ("--top-fg", "--top-bg", 4.5), ("#fff", "--accent", 4.5), ("#fff", "--bad", 4.5),
    ("--fg", "--msg-bg", 4.5), ("--accent", "--msg-bg", 4.5), ("--fg", "--pre-bg", 4.5),
    ("--ok", "--ok-bg", 4.5), ("--bad-fg", "--bad-bg", 4.5), ("--muted", "--bad-bg", 4.5),
    ("--fg", "--bad-bg", 4.5), ("--muted", "--ok-bg", 4.5),
    ("--focus", "--top-bg", 3.0), ("--focus-halo", "--bg", 3.0),
]


def variables() -> dict[str, str]:
    root = re.search(r":root\s*{([^}]*)}", CSS.read_text()).group(1)
    return dict(re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})", root))


def luminance(colour: str) -> float:
    hex_ = colour.lstrip("#")
    if len(hex_) == 3:
        hex_ = "".join(c * 2 for c in hex_)
    channels = [int(hex_[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_formula_matches_known_values():
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#777", "#fff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize(("fg", "bg", "minimum"), PAIRS)
def test_each_colour_pair_meets_aa(fg, bg, minimum):
    names = variables()
    ratio = contrast(names.get(fg, fg), names.get(bg, bg))
    assert ratio >= minimum, f"{fg} on {bg}: {ratio:.2f}:1 < {minimum}:1"


def test_every_colour_in_the_stylesheet_is_a_checked_variable_or_white():
    """A new hard-coded colour outside :root would escape the pairs above."""
    body = re.sub(r":root\s*{[^}]*}", "", CSS.read_text())
    loose = set(re.findall(r"#[0-9a-fA-F]{3,6}\b", body)) - {"#fff", "#6e7781"}
    assert loose == set()
