"""Anchors keep offsets, the span's hash and a short quote of its ends, no longer the span.

Existing anchors get the hash of their stored fragment (which is ``text[start:end]``) and a
quote chosen like new anchors' (``textproc.fragments.QuoteBudget``, both retention limits),
all anchors of a source together. A source whose text is purged is judged on what its
anchors knew of it: the union of their spans, any gap between them assumed to hold no word
(so that runs are never underestimated); its share limit counts only those known words.
"""

from django.conf import settings
from django.db import migrations, models

from alexandria.textproc.fragments import QuoteBudget, span_sha256

BATCH = 500


def _known_text(source, anchors) -> str:
    """The source's text; once purged, its anchors' spans at their offsets, gaps blank."""
    if source.text_purged_at is None:
        return source.text
    chars = [" "] * max(anchor.end for anchor in anchors)
    for anchor in anchors:
        for offset, char in enumerate(anchor.fragment[: anchor.end - anchor.start]):
            chars[anchor.start + offset] = char
    return "".join(chars)


def quote_fragments(apps, schema_editor):
    Anchor = apps.get_model("knowledge", "Anchor")
    Source = apps.get_model("sources", "Source")
    source_ids = list(
        Anchor.objects.values_list("source_id", flat=True).order_by("source_id").distinct()
    )
    for source_id in source_ids:
        source = Source.objects.get(pk=source_id)
        anchors = list(Anchor.objects.filter(source_id=source_id).order_by("start", "end", "pk"))
        budget = QuoteBudget(
            _known_text(source, anchors),
            max_run_words=settings.RETENTION_MAX_RUN_WORDS,
            max_quoted_share=settings.RETENTION_MAX_QUOTED_SHARE,
        )
        fragments = budget.quote([(anchor.start, anchor.end) for anchor in anchors])
        for anchor, fragment in zip(anchors, fragments):
            anchor.span_sha256 = span_sha256(anchor.fragment)
            anchor.text_start = fragment.text_start
            anchor.text_end = fragment.text_end
        Anchor.objects.bulk_update(
            anchors, ["span_sha256", "text_start", "text_end"], batch_size=BATCH
        )


def restore_fragments(apps, schema_editor):
    """Back to whole fragments where the text still exists; otherwise the quote is all left."""
    Anchor = apps.get_model("knowledge", "Anchor")
    anchors = Anchor.objects.select_related("source").order_by("pk")
    changed = []
    for anchor in anchors.iterator(chunk_size=BATCH):
        if anchor.source.text_purged_at is None:
            anchor.fragment = anchor.source.text[anchor.start : anchor.end]
        else:
            anchor.fragment = " \u2026 ".join(p for p in (anchor.text_start, anchor.text_end) if p)
        changed.append(anchor)
    Anchor.objects.bulk_update(changed, ["fragment"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0001_initial"),
        ("sources", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="anchor",
            name="span_sha256",
            field=models.CharField(
                default="", help_text="SHA-256 of text[start:end].", max_length=64
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="anchor",
            name="text_start",
            field=models.CharField(
                blank=True, help_text="The first words of the span.", max_length=200
            ),
        ),
        migrations.AddField(
            model_name="anchor",
            name="text_end",
            field=models.CharField(
                blank=True,
                help_text="The last words of the span; empty when text_start covers it, or no "
                "quote.",
                max_length=200,
            ),
        ),
        # Blank allowed while the column is on its way out: when the migration is reversed,
        # the column comes back filled with "" and then with restore_fragments' values.
        migrations.AlterField(
            model_name="anchor",
            name="fragment",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(quote_fragments, restore_fragments),
        migrations.RemoveField(model_name="anchor", name="fragment"),
        migrations.AddConstraint(
            model_name="anchor",
            constraint=models.CheckConstraint(
                condition=~models.Q(text_start="") | models.Q(text_end=""),
                name="anchor_text_end_needs_start",
            ),
        ),
    ]
