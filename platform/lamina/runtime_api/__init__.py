"""lamina.runtime_api."""
