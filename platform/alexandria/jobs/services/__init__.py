"""Writes for volunteer jobs, one module per part of the protocol; callers import the module
they need (``from alexandria.jobs.services.lifecycle import create_job``).

Locking order, everywhere: job rows (a replica's primary first, then by id), then lease and
result rows. Leasing takes job rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite
every transaction is ``BEGIN IMMEDIATE`` (see settings), so lease calls run one at a time.
"""
