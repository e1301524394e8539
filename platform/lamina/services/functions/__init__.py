"""Functions and what belongs to them: versions, aliases, layers, code zips, validation, tags, concurrency.

Also the account's settings and the console's saved test events.
"""
