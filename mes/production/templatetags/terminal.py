"""The terminal's tile fragments, rendered once per version of what they show.

A tile's live part (state, job, progress, telemetry, buttons) is a pure function of the tile's data (whose
``version`` digests it), the page it sits on and whether it is swapped out-of-band. In a running shop most
tiles do not change from one second to the next, so each version is rendered once and kept in the cache;
only the CSRF field differs per person and is put in after the cache. The fragment itself is a Jinja2
template (``mes/jinja2.py`` says why): a restarted server renders every tile at once.

Views fetch the live parts of all their tiles in one cache round trip (``tiles_live``), which matters when
the cache is a Redis server shared by several web workers; the ``tile_live`` tag then only fills in the
CSRF field.
"""

from collections.abc import Sequence

from django import template
from django.core.cache import cache
from django.template import engines
from django.utils.safestring import mark_safe

from mes.production.selectors import MachineTile

register = template.Library()

CSRF_SLOT = "<!--csrf-field-->"
_CSRF_SLOT_MARKUP = mark_safe(CSRF_SLOT)  # markup, so autoescaping keeps it a slot
TILE_CACHE_SECONDS = 300


def tiles_live(tiles: Sequence[MachineTile], *, page: str, back_url: str, oob: bool) -> dict[int, str]:
    """The live part of each tile (``templates/terminal/_tile_live.jinja``) by machine pk, with the CSRF
    slot still empty: one cache read for all of them, the missing versions rendered and written back in
    one go."""
    keys = {tile.pk: f"terminal-tile:{tile.pk}:{tile.version}:{page}:{int(oob)}:{back_url}" for tile in tiles}
    found = cache.get_many(list(keys.values())) if keys else {}
    fragment = engines["jinja2"].get_template("terminal/_tile_live.jinja")
    live, rendered = {}, {}
    for tile in tiles:
        html = found.get(keys[tile.pk])
        if html is None:
            context = {"tile": tile, "page": page, "back_url": back_url, "oob": oob}
            html = rendered[keys[tile.pk]] = fragment.render({**context, "csrf_field": _CSRF_SLOT_MARKUP})
        live[tile.pk] = html
    if rendered:
        cache.set_many(rendered, TILE_CACHE_SECONDS)
    return live


@register.simple_tag(takes_context=True)
def tile_live(context, tile) -> str:
    """The live part of ``tile`` with this person's CSRF field: from the view's ``live_tiles``
    (``tiles_live``), else fetched on its own with the context's page, return address and out-of-band flag."""
    live = context.get("live_tiles") or {}
    html = live.get(tile.pk)
    if html is None:
        page, back_url = context.get("page", ""), context.get("back_url", "")
        html = tiles_live([tile], page=page, back_url=back_url, oob=bool(context.get("oob")))[tile.pk]
    return mark_safe(html.replace(CSRF_SLOT, str(context.get("csrf_field", ""))))
