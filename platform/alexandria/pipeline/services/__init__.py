"""Writes of the analysis pipeline, one module per stage (see ``planning`` for the order)."""
