"""Admin: numbers."""
