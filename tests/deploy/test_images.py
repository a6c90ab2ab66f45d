"""The Dockerfiles, checked without a Docker engine: what they copy exists and reaches the build
context, what they run is installed, they run as non-root, the node carries no Django, and the
build-time steps (collectstatic) and the production settings work."""

import importlib.util
import os
import re
import secrets
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import entry_points, packages_distributions
from pathlib import Path

import pytest
from setuptools import find_packages

from tests.deploy.conftest import DOCKER_DIR, ENV_EXAMPLE, REPO_DIR
from tests.deploy.dockerfiles import Stage, dockerignored, parse_dockerfile

DOCKERFILES = sorted(DOCKER_DIR.glob("*.Dockerfile"))
NODE_DOCKERFILES = [path for path in DOCKERFILES if path.name.startswith("node")]
SERVER_ONLY = {"django", "djangorestframework", "drf-spectacular", "celery", "psycopg"}
BUILD_TOOLS = ("build-essential", "cmake", "gcc", "g++", "git", "python3-dev")


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCKER_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


requirements_for_extras = load_script("requirements_for_extras")
healthcheck = load_script("healthcheck")


def normalized(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def installed_requirements(stages: list[Stage], pyproject: dict) -> list[str]:
    """What the image pip-installs, from its requirements_for_extras.py call."""
    for stage in stages:
        for run in stage.all("RUN"):
            words = stage.expand(run.arguments).replace('"', "").split()
            if "requirements_for_extras.py" in words:
                start = words.index("requirements_for_extras.py") + 1
                arguments = words[start : words.index(">", start)]
                extras = (
                    arguments[arguments.index("--extras") + 1] if "--extras" in arguments else ""
                )
                return requirements_for_extras.requirements(
                    pyproject,
                    base="--base" in arguments,
                    extras=[e for e in extras.split(",") if e],
                )
    raise AssertionError("the image does not install requirements_for_extras.py's output")


@pytest.fixture(params=DOCKERFILES, ids=lambda path: path.name)
def dockerfile(request) -> tuple[Path, list[Stage]]:
    return request.param, parse_dockerfile(request.param)


def test_there_is_a_server_bot_and_two_node_images():
    names = {path.name for path in DOCKERFILES}
    assert names == {
        "server.Dockerfile",
        "bot.Dockerfile",
        "node.Dockerfile",
        "node-cuda.Dockerfile",
    }


def test_copy_sources_exist_in_the_build_context(dockerfile):
    path, stages = dockerfile
    stage_names = {stage.name for stage in stages}
    for stage in stages:
        for copy in stage.all("COPY") + stage.all("ADD"):
            flags, values = copy.flags_and_values()
            if "from" in flags:
                assert flags["from"] in stage_names, f"{path.name}: no stage {flags['from']}"
                continue
            for source in values[:-1]:
                assert (REPO_DIR / source).exists(), f"{path.name}: COPY {source} is missing"
                if source != ".":
                    assert not dockerignored(source, REPO_DIR / ".dockerignore"), source


def test_the_build_context_keeps_secrets_and_environments_out():
    ignore = REPO_DIR / ".dockerignore"
    for path in (".venv/bin/python", "var/alexandria.sqlite3", ".git/HEAD", "docker/.env", ".env"):
        assert dockerignored(path, ignore), path
    for path in ("pyproject.toml", "manage.py", "platform/alexandria/settings.py", "worker/cli.py"):
        assert not dockerignored(path, ignore), path


def test_final_image_runs_as_non_root(dockerfile):
    path, stages = dockerfile
    user = stages[-1].last("USER")
    assert user is not None and user.arguments.strip() not in {"root", "0"}, path.name


def test_base_images_are_pinned(dockerfile):
    path, stages = dockerfile
    for stage in stages:
        repository, _, tag = stage.image.partition(":")
        assert re.search(r"\d+\.\d+", tag), f"{path.name}: {stage.image} is not a pinned version"
        if repository == "python":
            assert tag.startswith("3.11") and "slim" in tag, stage.image


def test_final_image_has_no_build_tools_or_dev_extra(dockerfile, pyproject):
    path, stages = dockerfile
    final = stages[-1]
    assert "devel" not in final.image
    for run in final.all("RUN"):
        assert not any(
            re.search(rf"\s{re.escape(tool)}(\s|$)", run.arguments) for tool in BUILD_TOOLS
        )
    installed = {normalized(r) for r in installed_requirements(stages, pyproject)}
    assert not {"pytest", "ruff", "pytest-django"} & installed, path.name
    copies = [c.flags_and_values() for c in final.all("COPY")]
    assert all(flags.get("from") != "build" or values[0] == "/opt/venv" for flags, values in copies)


def test_the_project_is_installed_without_its_base_dependencies_except_on_the_server(dockerfile):
    path, stages = dockerfile
    runs = [run.arguments for stage in stages for run in stage.all("RUN")]
    assert any(re.fullmatch(r"pip install --no-deps \.", run.strip()) for run in runs), path.name


def test_entrypoint_and_cmd_are_installed_by_the_image(dockerfile, pyproject):
    path, stages = dockerfile
    final = stages[-1]
    instruction = final.last("ENTRYPOINT") or final.last("CMD")
    executable = instruction.exec_form()[0]
    if executable in pyproject["project"]["scripts"]:
        return  # `pip install --no-deps .` installs the project's console scripts
    providers = {
        ep.dist.name.lower()
        for ep in entry_points(group="console_scripts")
        if ep.name == executable
    }
    installed = {normalized(r) for r in installed_requirements(stages, pyproject)}
    assert providers & installed, f"{path.name}: nothing installed provides {executable}"


@pytest.mark.parametrize("path", NODE_DOCKERFILES, ids=lambda path: path.name)
def test_node_images_install_the_worker_extra_and_no_server_dependency(path, pyproject):
    installed = {normalized(r) for r in installed_requirements(parse_dockerfile(path), pyproject)}
    worker_extra = {normalized(r) for r in pyproject["project"]["optional-dependencies"]["worker"]}
    assert worker_extra <= installed
    assert not installed & SERVER_ONLY
    assert parse_dockerfile(path)[-1].last("ENTRYPOINT").exec_form() == ["alexandria-worker"]


def test_the_worker_package_imports_without_server_dependencies(pyproject):
    """What the node image has is enough: worker.cli imports with every server-only module
    (those of the server extra outside the base and worker dependencies) made unimportable."""
    extras = pyproject["project"]["optional-dependencies"]
    node = {normalized(r) for r in [*pyproject["project"]["dependencies"], *extras["worker"]]}
    server_only = {normalized(r) for r in extras["server"]} - node
    blocked = sorted(
        module
        for module, distributions in packages_distributions().items()
        if any(normalized(d) in server_only for d in distributions) and module.isidentifier()
    )
    assert "django" in blocked
    program = (
        "import sys\n"
        f"blocked = set({blocked!r})\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in blocked:\n"
        "            raise ImportError(f'{name} is not in the node image')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import worker.cli\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO_DIR, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_wheel_contains_every_package_file(pyproject):
    """Images `pip install .` (no editable tree): a module folder without __init__.py, or a data
    file (a template) not matched by [tool.setuptools.package-data], would be silently missing."""
    setuptools_config = pyproject["tool"]["setuptools"]
    find = setuptools_config["packages"]["find"]
    package_data = setuptools_config.get("package-data", {})
    packages: dict[Path, str] = {}
    for where in find["where"]:
        for name in find_packages(where=str(REPO_DIR / where), include=find["include"]):
            packages[(REPO_DIR / where / name.replace(".", "/")).resolve()] = name
    roots = [path for path in packages if path.parent in {REPO_DIR, REPO_DIR / "platform"}]
    assert {root.name for root in roots} >= {"alexandria", "tasks", "worker"}
    for root in roots:
        for file in root.rglob("*"):
            if file.is_dir() or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            relative = file.relative_to(REPO_DIR)
            if file.suffix == ".py":
                assert file.parent in packages, f"{relative}: its folder needs an __init__.py"
                continue
            owner = next(parent for parent in file.parents if parent in packages)
            patterns = package_data.get("*", []) + package_data.get(packages[owner], [])
            covered = {match for pattern in patterns for match in owner.glob(pattern)}
            assert file in covered, f"{relative} is left out of the wheel: add it to package-data"


def clean_environment(**values: str) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "TMPDIR"}
    return {k: v for k, v in os.environ.items() if k in keep} | values


def test_the_collectstatic_build_step_works(tmp_path):
    """The server image's build step, with nothing but the image's ENV and a throwaway key."""
    env = clean_environment(
        ALEXANDRIA_ENV="production",
        ALEXANDRIA_VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(tmp_path / "static"),
        SECRET_KEY="collectstatic-build-step-only",
    )
    run = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "static" / "staticfiles.json").is_file()


def test_the_documented_settings_pass_the_deploy_checks(tmp_path):
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.MULTILINE))
    values |= {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALEXANDRIA_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    env = clean_environment(**values)
    run = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr + run.stdout


def test_requirements_for_extras(pyproject, capsys):
    worker = requirements_for_extras.requirements(pyproject, base=False, extras=["worker"])
    assert worker == pyproject["project"]["optional-dependencies"]["worker"]
    server = requirements_for_extras.requirements(pyproject, base=True, extras=["server"])
    assert any(normalized(r) == "django" for r in server)
    assert not any(
        normalized(r) == "django"
        for r in requirements_for_extras.requirements(pyproject, base=True, extras=["worker"])
    )
    with pytest.raises(SystemExit, match="unknown extra"):
        requirements_for_extras.requirements(pyproject, base=False, extras=["nope"])
    argv = ["--pyproject", str(REPO_DIR / "pyproject.toml"), "--extras", "bot"]
    assert requirements_for_extras.main(argv) == 0
    assert (
        capsys.readouterr().out.splitlines() == pyproject["project"]["optional-dependencies"]["bot"]
    )


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hosts.append(self.headers["Host"])
        status = {"/ok": 200, "/down": 503, "/moved": 301}[self.path]
        self.send_response(status)
        if status == 301:
            self.send_header("Location", "https://example.org/ok")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.hosts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_healthcheck_passes_only_on_2xx_without_following_redirects(http_server, monkeypatch):
    base = f"http://127.0.0.1:{http_server.server_port}"
    monkeypatch.setenv("ALLOWED_HOSTS", "*, .alexandria.example.org,other.example")
    assert healthcheck.main([f"{base}/ok", "--allowed-host"]) == 0
    assert http_server.hosts[-1] == "alexandria.example.org"
    assert healthcheck.main([f"{base}/ok"]) == 0
    assert http_server.hosts[-1] == f"127.0.0.1:{http_server.server_port}"
    assert healthcheck.main([f"{base}/down"]) == 1
    assert healthcheck.main([f"{base}/moved"]) == 1
    assert healthcheck.main(["http://127.0.0.1:9/unreachable", "--timeout", "1"]) == 1
    assert healthcheck.main(["/api/v1/health"]) == 1  # an unset base URL in the environment
