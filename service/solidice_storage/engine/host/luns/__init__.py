"""LUNs: the block devices this host sees, their paths and identities."""
