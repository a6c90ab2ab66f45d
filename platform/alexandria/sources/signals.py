"""What the sources app tells the apps above it, which connect from their ``AppConfig.ready``
(the sources app imports none of them).

``upload_extracted`` is sent inside the transaction that gives an uploaded source its text,
with ``source`` and the ``document`` it was extracted as (its figures included: the only time
their images exist outside the file, which is deleted next). ``texts_purging`` is sent by
``services.purge_texts`` before it deletes texts, with the ``sources`` (a queryset) whose
analysis copies go: whatever else an app keeps of them for the analysis goes with them.
"""

from django.dispatch import Signal

upload_extracted = Signal()
texts_purging = Signal()
