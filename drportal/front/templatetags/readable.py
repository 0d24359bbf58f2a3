"""`{{ text|readable }}`: an error as a sentence, the scrubbed raw error behind a "details" disclosure
(drportal/lib/messages.py). A builtin (settings.TEMPLATES), so every template can use it without a load."""

from __future__ import annotations

from django import template
from django.utils.html import conditional_escape, format_html

from drportal.lib import messages

register = template.Library()


@register.filter
def readable(text) -> str:
    main, details = messages.split(str(text or ""))
    if not details:
        return conditional_escape(main)
    return format_html('{} <details class="raw"><summary>details</summary><code>{}</code></details>', main, details)
