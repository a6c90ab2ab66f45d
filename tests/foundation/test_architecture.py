"""The architecture holds by contract: import-linter checks the contracts in pyproject.toml
(layers that run one way, no Django on nodes, job internals private to the jobs app), and a
backward import added to a copy of the tree makes it fail.

Also: no function-level import of a project module without a comment saying why it is lazy.
"""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"alexandria": "platform/alexandria", **{p: p for p in ("jobkinds", "worker", "bot")}}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter over the packages under ``root`` with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'platform'}"}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--config", REPO / "pyproject.toml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )


def test_the_import_contracts_hold():
    completed = lint_imports(REPO)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "0 broken" in completed.stdout


@pytest.fixture
def tree_copy(tmp_path) -> Path:
    for name in ("tasks", "jobkinds", "worker", "bot", "platform/alexandria"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize(
    ("module", "backward_import", "contract"),
    [
        # A service that imports a task module (tasks call services, never the reverse).
        (
            "platform/alexandria/sources/services.py",
            "from alexandria.sources import tasks",
            "Inside each app",
        ),
        # A low app that reaches up into a higher one.
        (
            "platform/alexandria/knowledge/models.py",
            "from alexandria.search import querying",
            "depend downhill",
        ),
        # The volunteer node pulling in the server.
        ("worker/runtime.py", "import django", "without Django"),
        # The API's plumbing reaching into the leasing hot path.
        (
            "platform/alexandria/contributors/authentication.py",
            "from alexandria.jobs import pg_queue",
            "Only the jobs app",
        ),
    ],
)
def test_a_backward_import_breaks_a_contract(tree_copy, module, backward_import, contract):
    path = tree_copy / module
    path.write_text(path.read_text() + f"\n{backward_import}  # noqa\n")
    completed = lint_imports(tree_copy)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    broken = completed.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, completed.stdout


def _lazy_project_imports(path: Path) -> list[str]:
    """Function-level imports of project modules with no comment on their line or the one
    above saying why they are lazy."""
    lines = path.read_text().splitlines()
    found = []
    for function in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if not any(name.split(".")[0] in PACKAGES or name == "tasks" for name in names):
                continue
            if not _explained(lines, node.lineno - 1):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {lines[node.lineno - 1]}")
    return found


def _explained(lines: list[str], index: int) -> bool:
    """A comment on the import's line, or above the block of imports it belongs to."""
    if "#" in lines[index]:
        return True
    while index > 0:
        index -= 1
        above = lines[index].strip()
        if above.startswith("#"):
            return True
        if above and not above.startswith(("from ", "import ")):
            return False
    return False


def test_no_unexplained_function_level_imports_of_project_modules():
    sources = [
        path
        for folder in (*PACKAGES.values(), "tasks")
        for path in sorted((REPO / folder).rglob("*.py"))
        if "migrations" not in path.parts
    ]
    found = [line for path in sources for line in _lazy_project_imports(path)]
    assert not found, "\n".join(found)


def test_no_platform_module_over_500_lines():
    long = [
        f"{path.relative_to(REPO)}: {count} lines"
        for path in sorted((REPO / "platform").rglob("*.py"))
        if (count := len(path.read_text().splitlines())) > 500
    ]
    assert not long, "\n".join(long)
