"""Function logs: the agents' stream files, CloudWatch Logs' log groups over them, and filter patterns."""
