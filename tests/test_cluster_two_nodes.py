"""A real two-node Ray cluster on this machine (``ray start --head`` plus a
second ``ray start --address``, each with two logical GPUs and token
authentication on): a sweep run with --address spreads its trials over both
nodes and over distinct GPU ids, as the trials' own records show; and one trial on two
data-parallel workers placed SPREAD runs one rank on each node."""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pyarrow.parquet as pq
import pytest

from sweep_runner import REPO, cli_in_process

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ray_cli(*args, env):
    run = subprocess.run(["ray", *args], env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]


@pytest.fixture
def two_node_cluster(tmp_path):
    # a token of our own: the cluster never depends on ~/.ray/auth_token; and the four trials
    # wait for each other before training (trainables/start_barrier.py), so all four run at once:
    # two per node, as the nodes' 2 GPUs each allow, whatever the machine's load
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
               DISTILLERY_START_BARRIER=f"{tmp_path / 'barrier'}:4")
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=2", "--num-gpus=2", "--disable-usage-stats"]
    # a temp dir of its own (short: Ray's socket paths must fit 107 characters), so the cluster's
    # processes can be told apart from any other Ray on the machine when it is stopped
    temp_dir = tempfile.mkdtemp(prefix="dray", dir="/tmp")
    try:
        ray_cli("start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp_dir}",
                *common, env=env)
        ray_cli("start", f"--address={address}", *common, env=env)
        yield address, env
    finally:
        stop_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def cluster_pids(temp_dir):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if temp_dir.encode() in fh.read():
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


def stop_cluster(temp_dir):
    """SIGKILL this cluster's processes only (each names its session under ``temp_dir``): ``ray stop``
    would stop every Ray on the machine, a user's own and other tests' included."""
    for _ in range(50):
        pids = cluster_pids(temp_dir)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def test_sweep_spreads_over_nodes_and_gpus(tmp_path, two_node_cluster):
    address, env = two_node_cluster
    storage = tmp_path / "exp"
    run = subprocess.run(
        ["python", "-m", "platform.sweep", "dml_smoke", "--trials", "4", "--address", address,
         "--gpus-per-trial", "1", "--storage", str(storage), "--set", "train.epochs=3", "--set", "data.train_limit=300"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 CPU, 1 GPU" in run.stdout
    (experiment,) = [p for p in storage.iterdir() if p.is_dir()]
    rows = pq.read_table(experiment / "trials.parquet").to_pylist()
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    nodes = {r["node_id"] for r in rows}
    assert len(nodes) == 2, rows
    assert {r["cuda_visible_devices"] for r in rows} == {"0", "1"}
    # the barrier made all four run at the same time: two on each node, never on one GPU
    assert len(os.listdir(tmp_path / "barrier")) == 4
    for node in nodes:
        on_node = [r for r in rows if r["node_id"] == node]
        assert len(on_node) == 2, rows
        a, b = on_node
        assert a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"], (a, b)
        assert a["cuda_visible_devices"] != b["cuda_visible_devices"], (a, b)

    # one trial, two workers, one bundle on each node: gloo between the nodes
    spread = subprocess.run(
        ["python", "-m", "platform.sweep", "dml_smoke", "--trials", "1", "--address", address,
         "--workers-per-trial", "2", "--gpus-per-trial", "0", "--set", "trial.placement=SPREAD",
         "--storage", str(tmp_path / "spread"), "--set", "train.epochs=2", "--set", "data.train_limit=256"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert spread.returncode == 0, spread.stdout[-3000:] + spread.stderr[-3000:]
    (experiment,) = [p for p in (tmp_path / "spread").iterdir() if p.is_dir()]
    [row] = pq.read_table(experiment / "trials.parquet").to_pylist()
    assert row["status"] == "ok" and row["workers"] == 2 and row["worker_nodes"] == 2, row


def test_bad_gpu_share_is_a_usage_error(tmp_path):
    run = cli_in_process("platform.sweep", "dml_smoke", "--gpus-per-trial", "1.5", "--storage", str(tmp_path))
    assert run.returncode == 2 and "--gpus-per-trial" in run.stderr and "Traceback" not in run.stderr
