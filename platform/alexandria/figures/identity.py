"""Which CLIP model made an embedding: ``<model>/<pretrained tag or weights file's sha256[:12]>``.

Image and text embeddings are comparable only when the same weights made both, so the
identity is stored with every figure embedding, names the figure collection, and is sent in
job payloads; a result computed with another model or version is rejected. A weights file is
named by its content, not its path: two machines holding the same checkpoint agree. Nodes name
their weights with the same function (``jobkinds.clip_embed.clip_identity``).
"""

from __future__ import annotations

from django.conf import settings

from jobkinds.clip_embed import clip_identity as identity_of

__all__ = ["clip_identity"]


def clip_identity(model_name: str | None = None, pretrained: str | None = None) -> str:
    """The identity of the given model and weights (the server's, ``SEARCH_CLIP_MODEL`` and
    ``SEARCH_CLIP_PRETRAINED``, unless given)."""
    model_name = model_name or settings.SEARCH_CLIP_MODEL
    if pretrained is None:
        pretrained = settings.SEARCH_CLIP_PRETRAINED
    return identity_of(model_name, pretrained)
