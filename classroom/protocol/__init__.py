"""What the on-site agent and the portal agree on, and nothing else: where a recording's objects
live in the store, and the codes of the live exchange. The agent imports this package, never the
portal's own modules."""
