"""Template filters of the web app."""

from __future__ import annotations

from django import template

from bvall.web.charts import pretty_unit

register = template.Library()


@register.filter(name="unit")
def unit_filter(value: object) -> str:
    """Show a unit with superscripts (10^9/L as 10⁹/L); the stored spelling is unchanged."""
    return pretty_unit(str(value)) if value else ""


@register.filter(name="words")
def words_filter(value: object) -> str:
    """A code as words: ``as_planned`` -> ``as planned``."""
    return "" if value is None else str(value).replace("_", " ")


@register.filter(name="breakable")
def breakable_filter(value: object) -> str:
    """Text with line-break opportunities after dots and underscores (long rule ids wrap there,
    never inside a word)."""
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    text = escape("" if value is None else str(value))
    return mark_safe(text.replace(".", ".<wbr>").replace("_", "_<wbr>"))
