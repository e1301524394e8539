"""Persistence: SQLAlchemy 2 models, engine/session factory, and the content-addressed code store."""
