"""Jinja2 templates for everything the bot writes for humans: commit messages and PR bodies.

Kept as files beside this module so a team can read (and later override) the wording without
touching code. ``render`` is the one way in.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

HERE = Path(__file__).parent


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(name: str, **context) -> str:
    """Render ``templates/<name>`` with ``context``; a missing variable is an error, not blank."""
    return _env().get_template(name).render(**context)
