"""`lamina node`: the scheduler of one Docker host in a fleet, and the service that starts environments there."""
