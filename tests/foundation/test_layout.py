"""The repository layout rules: ``platform/`` never shadows the standard library, and the
volunteer node imports without Django."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_platform_folder_is_not_a_package():
    assert (REPO / "platform").is_dir()
    assert not (REPO / "platform" / "__init__.py").exists()


def test_stdlib_platform_works_from_repo_root():
    completed = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.system())"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip()


def test_openai_and_httpx_import_from_repo_root():
    # Both call platform.system() at import time; a shadowing package would break them.
    completed = subprocess.run(
        [sys.executable, "-c", "import openai, httpx, django; print('ok')"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


def test_worker_imports_without_django():
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'django' or name.startswith('django.'):\n"
        "            raise ImportError('django is not installed on a volunteer node')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import worker.cli, worker.runtime, jobkinds\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)\n"
        "print('ok')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", blocker], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
