"""Community review of knowledge items and the weighted consensus that settles them.

Members ask for work (``GET /api/v1/reviews/next``) and get a :class:`ReviewTask`: one item
they did not write and have not reviewed, with its anchors and sources. A member holds at most
``REVIEW_MAX_OPEN_TASKS`` open tasks (asking again returns the oldest open one); a task expires
after ``REVIEW_TASK_TTL_SECONDS``. An item is handed to at most ``REVIEW_OPEN_TASKS_PER_ITEM``
members at once, so open tasks spread reviewers over the queue; an expired (abandoned) task no
longer counts, which brings the item back for everyone.

Consensus. Each answer stores a ``knowledge.Review`` weighted by the reviewer's reputation at
that moment. With ``S``, ``N`` and ``U`` the weight sums of *supported*, *not supported* and
*unclear* votes and ``T = S + N + U`` (unclear counts toward the total only, for neither side),
an item is **accepted** when ``S >= CONSENSUS_MIN_WEIGHT`` and ``S / T >= CONSENSUS_SHARE``,
and **rejected** when ``N >= CONSENSUS_MIN_WEIGHT`` and ``N / T >= CONSENSUS_SHARE``. *Skip*
and *report* votes carry no weight. On settlement everyone who voted supported or not
supported is scored: agreeing moves reputation up by ``REPUTATION_AGREE_STEP`` (capped at
``REPUTATION_MAX``), disagreeing multiplies it by ``REPUTATION_DISAGREE_FACTOR`` (floored at
``REPUTATION_MIN``). Every change is a :class:`ReputationEvent` with its reason.

Gold items (:class:`GoldItem`) are planted statements with a known verdict, mixed into the
work at ``REVIEW_GOLD_RATE``. They never settle; a supported/not-supported answer scores the
reviewer at once, by the same steps.

Edits. ``proposed_text`` on a supported or unclear vote opens an :class:`EditProposal`; a later
reviewer who proposes the same text (whitespace aside) endorses it instead. When the item is
accepted, its open proposal with at least ``REVIEW_EDIT_MIN_ENDORSEMENTS`` endorsements (other
members than the proposer; most endorsed, then oldest) becomes a new item version, or staff
approve a proposal in the admin. The new version copies the anchors, points at the old one
through ``previous_version``, takes over the old item's status, and the old item is hidden as
"superseded by edit".
"""
