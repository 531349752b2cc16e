"""The Jinja2 environment of the patient page's body and of the pieces it shares.

The patient page is the page the care team opens most, and the largest: its record tables, open
alerts (each with its acknowledgement form) and derived panels run to thousands of values. Django's
template language interprets its node tree at every render; the page's body took 15 ms of the
33 ms the page took in process. Jinja2 compiles a template to Python once and renders the same body about
three times faster (benchmarks/README.md). The rest of the app, and the page's frame
(``bvall/base.html``), stay in Django's template language; the body is rendered here and placed in
the frame as HTML that is already escaped.

Jinja2 escapes every value (``autoescape``) as Django does; values Django marks safe (the SVG
charts) pass through unescaped, as they do in Django's templates.
"""

from __future__ import annotations

from typing import Any

import jinja2
from django.template import engines
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from bvall.web.templatetags.bvall_tags import breakable_filter, unit_filter, words_filter


def _url(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def environment(**options: Any) -> jinja2.Environment:
    """The environment Django's Jinja2 backend builds (``TEMPLATES`` in the settings)."""
    env = jinja2.Environment(**options)
    env.globals["url"] = _url
    env.filters.update(
        unit=unit_filter, words=words_filter, breakable=breakable_filter, pluralize=pluralize
    )
    return env


def render_html(template: str, context: dict[str, Any]) -> SafeString:
    """``template`` (a Jinja2 template of this app) rendered with ``context``, as HTML to place
    in a Django template. Nothing is taken from the request: the caller passes what the
    template shows (the CSRF token of a form included)."""
    html = engines["jinja2"].get_template(template).render(context)
    return mark_safe(html)
