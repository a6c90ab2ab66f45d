import subprocess
import sys
from pathlib import Path

PLATFORM = Path(__file__).resolve().parents[2] / "platform"


def test_textproc_imports_without_django():
    code = (
        "import sys, alexandria.textproc; "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PLATFORM)
