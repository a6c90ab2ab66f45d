"""Search: the vector index (one Chroma collection per layer) kept in step with the database,
and grounded answers to questions."""
