"""``python -m tests.worker.worker_with_test_kinds ARGS``: the real CLI with echo_summary known.

The worker process under test is exactly ``worker.cli.main``; this only registers the test
kind first, as a pipeline module in ``jobkinds`` would.
"""

import sys

import tests.worker.echo_kind  # noqa: F401  (registers echo_summary)
from worker.cli import main

if __name__ == "__main__":
    sys.exit(main())
