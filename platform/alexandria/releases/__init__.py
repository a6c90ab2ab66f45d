"""Open dataset releases: the knowledge base as versioned, checksummed Parquet in the Hugging
Face layout (``alexandria release``, weekly in beat), full snapshots or diffs from the previous
release, with deletions propagated. ``services.write_release`` says what goes in."""
