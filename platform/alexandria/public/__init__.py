"""The public side: anonymous web pages and the public read API over the knowledge base."""
