"""The simulated engine: the same operations over an in-memory host, for trial and the D-Bus tier."""
