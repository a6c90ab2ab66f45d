"""Writes of the layers app: merges and splits, and the abstraction of nodes into new items."""
