"""Staff admin for the helpline app, one module per area."""

from helpline.admin import calls, numbers, requests  # noqa: F401
