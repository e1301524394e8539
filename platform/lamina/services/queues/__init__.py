"""lamina queues: messages kept in Redis, the event sources of event source mappings."""
