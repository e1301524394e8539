"""Asynchronous invocation: accepted events, retries, event-invoke configuration and destinations."""
