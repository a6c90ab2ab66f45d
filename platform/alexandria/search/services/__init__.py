"""Writes of the search app: keeping the vector index in step with the database."""
