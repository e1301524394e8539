"""What invokes a function on its own: schedules, function URLs and event source mappings."""
