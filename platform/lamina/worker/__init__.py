"""lamina.worker."""
