"""The terminal's tile fragments, rendered once per version of what they show.

A tile's live part (state, job, progress, telemetry, buttons) is a pure function of the tile's data (whose
``version`` digests it), the page it sits on and whether it is swapped out-of-band. In a running shop most
tiles do not change from one second to the next, so each version is rendered once and kept in the cache;
only the CSRF field differs per person and is put in after the cache. The fragment itself is a Jinja2
template (``mes/jinja2.py`` says why): a restarted server renders every tile at once.
"""

from django import template
from django.core.cache import cache
from django.template import engines
from django.utils.safestring import mark_safe

register = template.Library()

CSRF_SLOT = "<!--csrf-field-->"
_CSRF_SLOT_MARKUP = mark_safe(CSRF_SLOT)  # markup, so autoescaping keeps it a slot
TILE_CACHE_SECONDS = 300


@register.simple_tag(takes_context=True)
def tile_live(context, tile) -> str:
    """The live part of ``tile`` (``templates/terminal/_tile_live.jinja``), from the cache when this version
    was rendered before with the same page, return address and out-of-band flag."""
    page, back_url, oob = context.get("page", ""), context.get("back_url", ""), bool(context.get("oob"))
    key = f"terminal-tile:{tile.pk}:{tile.version}:{page}:{int(oob)}:{back_url}"
    html = cache.get(key)
    if html is None:
        fragment = {
            "tile": tile,
            "page": page,
            "back_url": back_url,
            "oob": oob,
            "csrf_field": _CSRF_SLOT_MARKUP,
        }
        html = engines["jinja2"].get_template("terminal/_tile_live.jinja").render(fragment)
        cache.set(key, html, TILE_CACHE_SECONDS)
    return mark_safe(html.replace(CSRF_SLOT, str(context.get("csrf_field", ""))))
