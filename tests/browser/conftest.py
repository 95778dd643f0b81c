"""Browser tests share the session-wide ``browser`` fixture from tests/conftest.py."""
