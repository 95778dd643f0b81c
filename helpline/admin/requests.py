"""Admin: requests."""
