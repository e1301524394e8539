"""lamina.scheduler."""
