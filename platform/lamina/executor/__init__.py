"""lamina.executor."""
