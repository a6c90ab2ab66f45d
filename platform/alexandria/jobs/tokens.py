"""Node tokens: random, shown once, stored as SHA-256 (high-entropy, so no slow hash needed)."""

import hashlib
import secrets

NODE_TOKEN_PREFIX = "anode_"  # noqa: S105 (a public marker, not a secret)


def new_node_token() -> str:
    return NODE_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_node_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
