"""Template filters of the web app."""

from __future__ import annotations

from django import template

from bvall.web.charts import pretty_unit

register = template.Library()


@register.filter(name="unit")
def unit_filter(value: object) -> str:
    """Show a unit with superscripts (10^9/L as 10⁹/L); the stored spelling is unchanged."""
    return pretty_unit(str(value)) if value else ""
