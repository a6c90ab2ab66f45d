#!/usr/bin/env python
"""Django's command-line utility for Alexandria's backend."""

import os
import sys
from pathlib import Path


def main() -> None:
    # platform/ is a plain folder on the path, never a package (it would shadow the stdlib).
    sys.path.insert(0, str(Path(__file__).resolve().parent / "platform"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
