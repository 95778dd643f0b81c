"""Local runs: the embedded default unless DATABASE_URL / REDIS_URL are set."""

from .base import *  # noqa: F403
from .base import env

# Off unless asked for: the 404 and 500 pages must show the disclosure like every other page.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
