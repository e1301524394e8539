"""Shared file systems (Lambda's EFS mounts): an account's volumes, mounted by its functions."""
