"""Kinesis data streams kept in Redis Streams, the stream event sources of event source mappings."""
