"""lamina.services."""
