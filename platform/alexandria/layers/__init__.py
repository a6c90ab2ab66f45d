"""Abstraction layers: merging items that say the same thing, and building each layer above
from the one below it. Reads the vector index through ``alexandria.search``."""
