"""docker/compose.yaml, checked without a Docker engine: every service is health-checked, every
file and volume it names exists, and every command it runs exists in the project."""

import importlib
import re
import shutil
import subprocess

import pytest
from celery import Celery
from celery.bin.celery import celery as celery_cli
from django.core.management import get_commands

from tests.deploy.conftest import COMPOSE_FILE, DOCKER_DIR, ENV_EXAMPLE, REPO_DIR

ONE_SHOT = {"migrate"}
SERVER_ROLES = {"web", "worker", "beat"}
WORKER_QUEUES = {"default", "pipeline", "validation", "maintenance"}
# Files that compose's images carry at fixed paths: container path -> repository file.
IMAGE_FILES = {"/opt/alexandria/healthcheck.py": DOCKER_DIR / "healthcheck.py"}


def built_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def command_of(service: dict) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else list(command)


def healthcheck_command(service: dict) -> list[str]:
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return test.split()
    kind, *rest = test
    return rest[0].split() if kind == "CMD-SHELL" else rest


def test_every_long_running_service_is_health_checked(compose):
    for name, service in compose["services"].items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f"{name} is one-shot: it must not restart"
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"


def test_web_health_check_probes_the_health_endpoint(compose):
    assert "http://127.0.0.1:8000/api/v1/health" in healthcheck_command(compose["services"]["web"])


def test_named_volumes_are_declared_and_used(compose):
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.add(source)
    assert used == declared, f"declared but unused volumes: {declared - used}"


def test_build_contexts_dockerfiles_and_env_files_exist(compose):
    for name, service in built_services(compose).items():
        context = (DOCKER_DIR / service["build"]["context"]).resolve()
        assert context == REPO_DIR, f"{name}: the build context must be the repository root"
        assert (context / service["build"]["dockerfile"]).is_file()
    for name, service in compose["services"].items():
        env_files = service.get("env_file", [])
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            path = env_file if isinstance(env_file, str) else env_file["path"]
            assert path == ".env", f"{name}: settings come from docker/.env"
            assert ENV_EXAMPLE.is_file()


def test_every_interpolated_variable_is_documented(documented_variables):
    text = re.sub(r"\$\$", "", COMPOSE_FILE.read_text())  # $$ is a literal $ for the container
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    assert interpolated - documented_variables == set()


def test_every_setting_read_from_the_environment_is_documented(documented_variables):
    settings_py = (REPO_DIR / "platform" / "alexandria" / "settings.py").read_text()
    call = r"(?:os\.environ\.get|os\.getenv|env_bool|env_list|env_int|env_float|env_optional_float)"
    read = set(re.findall(call + r"\(\s*\"([A-Z][A-Z0-9_]*)\"", settings_py))
    read |= set(re.findall(r"os\.environ\[\"([A-Z][A-Z0-9_]*)\"\]", settings_py))
    assert read, "no settings found: has settings.py changed how it reads the environment?"
    assert read - documented_variables == set()


def test_bot_variables_are_documented(compose, documented_variables):
    bot = {
        "DISCORD_TOKEN",
        "DISCORD_GUILD_IDS",
        "ALEXANDRIA_API_URL",
        "BOT_SERVICE_TOKEN",
        "DISCORD_MOD_CHANNEL_ID",
    }
    assert bot <= documented_variables
    assert bot <= set(compose["services"]["bot"]["environment"])


def test_server_roles_wait_for_migrate_and_nothing_else_migrates(compose):
    for name in SERVER_ROLES:
        depends_on = compose["services"][name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
    assert command_of(compose["services"]["migrate"])[:3] == ["python", "manage.py", "migrate"]
    for name, service in compose["services"].items():
        if name not in ONE_SHOT:
            assert "migrate" not in command_of(service), f"{name} must not run migrations"


def test_dependencies_wait_for_health(compose):
    for name, service in compose["services"].items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert rule["condition"] == expected, f"{name} -> {dependency}"


def assert_runs_in_project(command: list[str], pyproject: dict, where: str) -> None:
    """The executable and its arguments exist: console scripts, celery apps, manage.py commands."""
    executable, *arguments = command
    if executable == "python" and arguments[0] == "manage.py":
        assert (REPO_DIR / "manage.py").is_file()
        assert arguments[1] in get_commands(), f"{where}: no manage.py command {arguments[1]}"
    elif executable == "python" and arguments[0] in IMAGE_FILES:
        assert IMAGE_FILES[arguments[0]].is_file(), where
    elif executable == "gunicorn":
        module_name, _, attribute = arguments[0].partition(":")
        application = getattr(importlib.import_module(module_name), attribute)
        assert callable(application), f"{where}: {arguments[0]} is not a WSGI callable"
        joined = " ".join(arguments).replace("--config=", "--config ").split()
        assert "--config" in joined, f"{where}: gunicorn runs with the project's config"
        config = joined[joined.index("--config") + 1]
        assert config.startswith("python:"), f"{where}: {config} is not a config module"
        assert importlib.import_module(config.removeprefix("python:")).worker_class == "gthread"
    elif executable == "celery":
        assert_celery_command(arguments, where)
    else:
        assert executable in pyproject["project"]["scripts"], f"{where}: unknown {executable}"


def assert_celery_command(arguments: list[str], where: str) -> None:
    assert arguments[:2] == ["-A", "tasks"], f"{where}: the Celery app is tasks"
    app = importlib.import_module("tasks").app
    assert isinstance(app, Celery)
    subcommand, *options = arguments[2:]
    if subcommand == "inspect":
        subcommand, options = "inspect", options[1:]  # inspect <method>
    click_command = celery_cli.commands[subcommand]
    known = {opt for param in click_command.params for opt in param.opts + param.secondary_opts}
    for option in options:
        if option.startswith("-"):
            assert option.split("=", 1)[0] in known, f"{where}: celery {subcommand} {option}?"
    if "-Q" in options:
        queues = set(options[options.index("-Q") + 1].split(","))
        assert queues == {queue.name for queue in app.conf.task_queues} == WORKER_QUEUES


def test_every_command_of_the_project_images_exists(compose, pyproject):
    for name, service in built_services(compose).items():
        command = command_of(service)
        if service["build"]["dockerfile"].startswith("docker/node"):
            command = ["alexandria-worker", *command]  # the image's ENTRYPOINT
        assert_runs_in_project(command, pyproject, f"{name} command")
        if name not in ONE_SHOT:
            assert_runs_in_project(healthcheck_command(service), pyproject, f"{name} healthcheck")


def test_compose_file_is_valid_for_docker_compose(tmp_path):
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on this machine")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"the docker CLI has no compose plugin: {probe.stderr.strip()}")
    # compose needs docker/.env to exist; validate a copy with the documented example as .env.
    copy = tmp_path / "docker"
    copy.mkdir()
    shutil.copy(COMPOSE_FILE, copy / "compose.yaml")
    shutil.copy(ENV_EXAMPLE, copy / ".env")
    result = subprocess.run(
        [docker, "compose", "-f", str(copy / "compose.yaml"), "--profile", "volunteer", "config"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
