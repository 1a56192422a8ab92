"""The Jinja2 environment for the few fragments rendered on a hot path.

Django's template engine costs about a millisecond for a terminal tile; the terminal renders fifty of them
after a restart, and the page has 100 ms. Jinja2 compiles a template to Python and renders the same tile
in a small fraction of that, so the tile's live part (``templates/terminal/_tile_live.jinja``) is a Jinja2
template. Everything else stays on Django's engine. The filters here are the Django ones the fragments use,
with the same output, so a fragment reads like its Django siblings.
"""

from django.template import defaultfilters
from django.utils.timezone import template_localtime
from jinja2 import Environment, StrictUndefined

from mes.core.templatetags.shop import duration, pk_url


def _time(value, fmt: str) -> str:
    """Django's ``time`` filter, in the current time zone as Django's engine would convert it first."""
    return defaultfilters.time(template_localtime(value), fmt)


def environment(**options) -> Environment:
    """Django's ``TEMPLATES`` entry for Jinja2 calls this. Undefined names raise instead of printing
    nothing: a misspelt field in a tile must fail its tests, not render blank."""
    env = Environment(**{**options, "undefined": StrictUndefined})
    env.globals["pk_url"] = pk_url
    env.filters.update(
        duration=duration,
        floatformat=defaultfilters.floatformat,
        pluralize=defaultfilters.pluralize,
        time=_time,
    )
    return env
