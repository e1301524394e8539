"""Identity and access: accounts, users, keys, tokens, resource policies, role sessions and secrets at rest."""
