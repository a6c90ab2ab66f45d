"""Verbatim fingerprints: made at ingestion from the text, keyed, and rebuilt from the text
while it is kept when the key changed."""

import hashlib

import numpy as np
import pytest

from alexandria.sources.fingerprints import copied_runs, current_key_id, fingerprint_key
from alexandria.sources.models import Source, SourceFingerprint
from alexandria.sources.services import purge_texts
from alexandria.textproc.shingles import key_id, shingle_hashes, words
from tests.pipeline.documents import CURIE, CURIE_TITLE
from tests.pipeline.driving import submit_document

pytestmark = pytest.mark.django_db(transaction=True)


def test_ingestion_fingerprints_the_text_with_the_installation_key(member, settings):
    source = submit_document(CURIE, CURIE_TITLE, member)
    fingerprint = SourceFingerprint.objects.get(source=source)
    tokens = [word.token for word in words(source.text)]
    assert fingerprint.word_count == len(tokens)
    assert fingerprint.shingle_words == settings.RETENTION_MAX_RUN_WORDS == 12
    assert fingerprint.key_id == current_key_id() == key_id(fingerprint_key())
    stored = np.frombuffer(bytes(fingerprint.hashes), dtype="<u8")
    expected = sorted(set(shingle_hashes(tokens, key=fingerprint_key(), n=12)))
    assert stored.tolist() == expected
    # Keyed: the same shingles hashed without the installation's key match nothing stored.
    assert not set(shingle_hashes(tokens, key=b"guess", n=12)) & set(expected)


def test_the_default_key_derives_from_secret_key_and_the_setting_overrides_it(settings):
    settings.RETENTION_FINGERPRINT_KEY = ""
    derived = fingerprint_key()
    assert derived != settings.SECRET_KEY.encode() and len(derived) == 32
    settings.SECRET_KEY = "another secret"
    assert fingerprint_key() != derived
    settings.RETENTION_FINGERPRINT_KEY = "explicit"
    assert (
        fingerprint_key()
        == hashlib.blake2b(b"explicit", digest_size=32, person=b"alx-fingerprint").digest()
    )


def test_a_changed_key_rebuilds_the_fingerprint_while_the_text_is_kept(member, settings):
    source = submit_document(CURIE, CURIE_TITLE, member)
    old_key_id = source.fingerprint.key_id
    settings.RETENTION_FINGERPRINT_KEY = "rotated"
    copied = CURIE[:120]
    (run,) = copied_runs([copied], [source.pk])
    assert run.source_ids == (source.pk,)
    assert SourceFingerprint.objects.get(source=source).key_id not in ("", old_key_id)


def test_a_purged_source_whose_fingerprint_is_unusable_is_left_unchecked(member, settings):
    source = submit_document(CURIE, CURIE_TITLE, member)
    purge_texts(Source.objects.filter(pk=source.pk))
    source.refresh_from_db()
    assert copied_runs([CURIE[:120]], [source.pk]) != []
    settings.RETENTION_FINGERPRINT_KEY = "rotated"
    assert copied_runs([CURIE[:120]], [source.pk]) == []  # the audit reports it instead
