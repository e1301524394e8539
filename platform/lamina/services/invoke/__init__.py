"""Synchronous invoke: validation, the spec cache, SDK retry joining, metrics and tracing of invocations."""
