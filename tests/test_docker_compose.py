"""docker-compose.yaml cannot run here (no container engine); keep it honest by checking its references."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def test_has_the_airflow_components_the_endpoint_and_both_databases():
    commands = {name: " ".join(svc.get("command", [])) for name, svc in SERVICES.items()}
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert any(cmd == f"airflow {component}" for cmd in commands.values()), component
    assert any("-m local_aws" in cmd for cmd in commands.values())
    assert {"airflow-db", "store-db", "local-aws"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_mounted_host_path_exists(name):
    for volume in SERVICES[name].get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith(("./", "/")):
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"
        else:
            assert source in COMPOSE.get("volumes", {}), f"{name} uses undeclared volume {source}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_build_files_and_python_modules_exist(name):
    service = SERVICES[name]
    build = service.get("build")
    if build:
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()
        for line in (ROOT / build["context"] / build["dockerfile"]).read_text().splitlines():
            if line.startswith("COPY"):
                for source in line.split()[1:-1]:
                    if not source.startswith("--"):
                        assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    command = service.get("command", [])
    if "-m" in command:
        module = command[command.index("-m") + 1]
        assert importlib.util.find_spec(module) is not None, f"{name} runs missing module {module}"


def test_published_ports_bind_loopback_only():
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_depends_on_names_real_services():
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}) or {}:
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
