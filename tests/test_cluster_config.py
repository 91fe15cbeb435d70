"""Every shipped cluster launcher file (cluster*.yaml at the repo root) passes Ray's own validator.

It goes through the same path `ray up` uses: prepare_config (merges the provider's defaults.yaml and
handles the on-prem provider) and then validate_config (the JSON schema plus cross-field checks). Both
are private Ray API, which is why pyproject.toml pins ray. These checks run offline: the test blocks
socket connections to prove the validator contacts no cloud.
"""
import copy
import glob
import os
import re
import socket

import click
import jsonschema
import pytest
import yaml

from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER_FILES = sorted(glob.glob(os.path.join(ROOT, "cluster*.yaml")))
REJECTED = (jsonschema.ValidationError, ValueError, RuntimeError, click.ClickException)

# A dashboard bound to 127.0.0.1 is reached with `ray dashboard FILE` (an SSH tunnel).
DASHBOARD_HOST = re.compile(r"--dashboard-host[= ]+(\S+)")
# Patterns of things that must never be committed in a cluster file.
SECRET_PATTERNS = [
    re.compile(r"aws_secret_access_key", re.I),
    re.compile(r"aws_access_key_id", re.I),
    re.compile(r"aws_session_token", re.I),
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"RAY_AUTH_TOKEN\s*[=:]", re.I),  # the token value inline instead of the token file
    re.compile(r"\bpassword\s*[=:]", re.I),
]
AUTH_DISABLED = re.compile(r"RAY_AUTH_MODE\W{0,3}disabled", re.I)


def _name(path):
    return os.path.basename(path)


def _load(path):
    with open(path) as fh:
        return yaml.safe_load(fh)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Validation must not reach AWS (or anything else)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"cluster validation tried to open a network connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _prepared(raw):
    # prepare_config can return its argument as-is (an already-prepared on-prem config), so give it a copy.
    return prepare_config(copy.deepcopy(raw))


def _check(raw):
    cfg = _prepared(raw)
    validate_config(cfg)
    return cfg


def _start_commands(cfg):
    return list(cfg.get("head_start_ray_commands", [])) + list(cfg.get("worker_start_ray_commands", []))


def test_both_cluster_files_are_shipped():
    names = {_name(p) for p in CLUSTER_FILES}
    assert {"cluster.yaml", "cluster.local.yaml"} <= names, names


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=_name)
def test_passes_rays_validator(path):
    raw = _load(path)
    before = copy.deepcopy(raw)
    cfg = _check(raw)
    assert raw == before, "prepare_config must not change the loaded file"
    assert cfg["head_node_type"] in cfg["available_node_types"]
    # Node types only ever carry integer resources.
    for node_type in cfg["available_node_types"].values():
        for value in node_type["resources"].values():
            assert isinstance(value, int) and value >= 0


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=_name)
def test_dashboard_bound_to_localhost(path):
    # Check the prepared config: a file without start commands would inherit the AWS default
    # --dashboard-host=0.0.0.0 from defaults.yaml.
    cfg = _prepared(_load(path))
    head = " ".join(cfg["head_start_ray_commands"])
    assert "ray start --head" in head
    hosts = DASHBOARD_HOST.findall(" ".join(_start_commands(cfg)))
    assert hosts == ["127.0.0.1"], hosts


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=_name)
def test_token_auth_stays_on(path):
    with open(path) as fh:
        text = fh.read()
    assert not AUTH_DISABLED.search(text)
    cfg = _prepared(yaml.safe_load(text))
    # Every node starts Ray in token mode, with the token file distributed through file_mounts.
    for cmd in (c for c in _start_commands(cfg) if "ray start" in c):
        assert "RAY_AUTH_MODE=token" in cmd, cmd
    assert "~/.ray/auth_token" in cfg["file_mounts"]


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=_name)
def test_no_secrets(path):
    with open(path) as fh:
        text = fh.read()
    found = [p.pattern for p in SECRET_PATTERNS if p.search(text)]
    assert not found, f"{_name(path)} looks like it holds a secret: {found}"


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=_name)
def test_installs_the_project_from_its_own_files(path):
    cfg = _prepared(_load(path))
    assert cfg["file_mounts"].get("~/distillery") == "."
    for pattern in (".git", "runs/", "results/"):
        assert pattern in cfg["rsync_exclude"], pattern
    setup = " && ".join(cfg["setup_commands"])
    assert "pip install -q -e ~/distillery" in setup
    assert "[test]" not in setup
    # platform/ must never be pip-installed: it would lose to the standard library's platform module.
    assert "distillery/platform" not in setup


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=_name)
def test_unknown_top_level_key_is_rejected(path):
    raw = _load(path)
    raw["setup_command"] = ["echo typo"]
    with pytest.raises(jsonschema.ValidationError, match="setup_command"):
        _check(raw)


def test_aws_node_types():
    cfg = _check(_load(os.path.join(ROOT, "cluster.yaml")))
    assert cfg["provider"]["type"] == "aws"
    types = cfg["available_node_types"]
    assert types[cfg["head_node_type"]]["resources"].get("CPU") == 0, "no trials on the head"
    gpu = [t for t in types.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu, "an autoscaling GPU worker type"
    for t in gpu:
        assert t["min_workers"] == 0 and t["max_workers"] >= 1


def test_fractional_node_gpu_is_rejected():
    raw = _load(os.path.join(ROOT, "cluster.yaml"))
    worker = next(k for k, t in raw["available_node_types"].items() if t["resources"].get("GPU"))
    raw["available_node_types"][worker]["resources"]["GPU"] = 0.5
    with pytest.raises(jsonschema.ValidationError, match="integer"):
        _check(raw)


def test_unknown_head_node_type_is_rejected():
    raw = _load(os.path.join(ROOT, "cluster.yaml"))
    raw["head_node_type"] = "no.such.type"
    with pytest.raises(ValueError, match="head_node_type"):
        _check(raw)


def test_min_workers_above_max_is_rejected():
    raw = _load(os.path.join(ROOT, "cluster.yaml"))
    worker = next(k for k, t in raw["available_node_types"].items() if t["resources"].get("GPU"))
    raw["available_node_types"][worker]["min_workers"] = raw["max_workers"] + 1
    with pytest.raises(REJECTED):
        _check(raw)


def test_local_provider_shape():
    raw = _load(os.path.join(ROOT, "cluster.local.yaml"))
    assert raw["provider"]["type"] == "local"
    assert raw["provider"]["head_ip"] and raw["provider"]["worker_ips"]
    assert "available_node_types" not in raw
    cfg = _check(raw)
    # One synthesised node type; GPUs are whatever `ray start` detects.
    assert list(cfg["available_node_types"]) == ["local.cluster.node"]


def test_local_provider_rejects_node_types():
    raw = _load(os.path.join(ROOT, "cluster.local.yaml"))
    raw["available_node_types"] = {"gpu": {"resources": {"GPU": 1}, "node_config": {}}}
    with pytest.raises(click.ClickException, match="not supported for on-premise"):
        _check(raw)
