"""Helpers shared by test packages (images built once per session, ...)."""
