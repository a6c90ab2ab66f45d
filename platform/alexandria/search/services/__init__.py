"""Writes of the search app: the vector index, merges and abstraction layers."""
