"""lamina.console."""
