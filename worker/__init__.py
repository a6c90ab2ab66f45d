"""Alexandria volunteer node: leases jobs from the backend and runs them on local models.

This package must stay importable without Django: volunteers install only the ``worker`` extra.
"""

__version__ = "0.1.0"
