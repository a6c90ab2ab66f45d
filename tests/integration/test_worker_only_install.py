"""Acceptance: a volunteer installs ``alexandria[worker]`` alone (no Django) and it does a job.

The project is installed, not editable, into a fresh virtual environment from a copy of its
sources (a build in the checkout would leave ``build/`` behind), with pip's usual index and
cache. Without an index to install from the test is skipped locally; under ``CI=true`` that
is a failure.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alexandria.jobs.models import CreditEntry, Job, JobResult
from tests.integration.conftest import ProfileModel, profile_job, worker_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
# What building the distribution needs: its metadata and the packages it finds.
PROJECT_FILES = ("pyproject.toml", "README.md")
PROJECT_PACKAGES = ("worker", "jobkinds", "bot", "tasks", "platform/alexandria")
INSTALL_TIMEOUT_S = 300

pytestmark = pytest.mark.slow


def venv_environment(venv: Path) -> dict[str, str]:
    """The worker environment with nothing that points back into the project's own venv."""
    env = worker_environment()
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def worker_only_venv(tmp_path) -> Path:
    """A fresh venv with ``pip install '<project>[worker]'`` in it."""
    source = tmp_path / "project"
    for name in PROJECT_FILES:
        source.mkdir(exist_ok=True)
        shutil.copy2(REPO_ROOT / name, source / name)
    for package in PROJECT_PACKAGES:
        shutil.copytree(
            REPO_ROOT / package,
            source / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", f"{source}[worker]"],
        env=venv_environment(venv),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    if install.returncode != 0:
        output = (install.stdout + install.stderr)[-4000:]
        message = f"pip install '<project>[worker]' failed:\n{output}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return venv


def run_in(venv: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv / "bin" / "python", "-c", code],
        env=venv_environment(venv),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_worker_extra_alone_installs_without_django_and_completes_a_job(
    worker_only_venv, tmp_path, register_volunteer, submitted_source, start_worker, fake_openai
):
    no_django = run_in(worker_only_venv, "import django", tmp_path)
    assert no_django.returncode != 0
    assert "No module named 'django'" in no_django.stderr
    installed = run_in(worker_only_venv, "import worker; print(worker.__file__)", tmp_path)
    assert installed.returncode == 0, installed.stderr
    assert Path(installed.stdout.strip()).is_relative_to(worker_only_venv)

    job = profile_job(submitted_source, "describe")
    volunteer = register_volunteer("420000000000000031", kinds=("describe",), trust=1.0)
    fake_openai.responder = ProfileModel()
    fake_openai.latency = 0.1
    process = start_worker(
        volunteer,
        fake_openai.base_url,
        "--once",
        "--kinds",
        "describe",
        script=worker_only_venv / "bin" / "alexandria-worker",
        env=venv_environment(worker_only_venv),
    )
    assert process.finish() == 0, process.output
    assert "1 done, 0 failed" in process.output

    job.refresh_from_db()
    assert job.status == Job.Status.DONE
    (result,) = JobResult.objects.filter(job=job)
    assert (result.node_id, result.status) == (volunteer.node_id, JobResult.Status.VALID)
    (credit,) = CreditEntry.objects.filter(job=job)
    assert (credit.node_id, credit.basis) == (volunteer.node_id, CreditEntry.Basis.TRUSTED)
