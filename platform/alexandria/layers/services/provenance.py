"""Support of layer >= 2 items through their provenance: each item a new item combines must be
relevant to it, or it is no evidence for it.

A composition may list an item it never used (a small model copies every id it was shown); left
in ``derived_from``, that item's anchors would be cited for a claim they say nothing about
(``search.selectors.grounding_anchors`` unions the anchors down the tree). An item is relevant
when it shares a content word with the new item (``textproc.item_quality.shared_content``) or
reaches ``PROVENANCE_SIMILARITY_FLOOR``; the others are dropped, and a new item relevant to
nothing it combines is rejected (``IRRELEVANT``).
"""

import numpy as np

from alexandria.embeddings import get_embedder, similarity_threshold
from alexandria.textproc.item_quality import shared_content

IRRELEVANT = "irrelevant_provenance"


def relevant_items(text: str, combined: dict[int, str]) -> list[int]:
    """The ids of ``combined`` (id → text, in the order given) relevant to ``text``."""
    relevant = {i for i, other in combined.items() if shared_content(text, other)}
    rest = [i for i in combined if i not in relevant]
    if rest:
        vectors = get_embedder().embed_texts([text, *(combined[i] for i in rest)])
        scores = np.atleast_1d(vectors[1:] @ vectors[0])
        floor = similarity_threshold("PROVENANCE_SIMILARITY_FLOOR")
        relevant.update(i for i, score in zip(rest, scores, strict=True) if score >= floor)
    return [i for i in combined if i in relevant]
