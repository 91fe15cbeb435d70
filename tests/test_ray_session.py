"""What a sweep's start and end are cut by, each held to what it must not change: a local
Ray starts without the dashboard's API server and the autoscaler monitor (and still runs
tasks and placement groups, and shuts down whole), and a command that ran Ray leaves
without the interpreter's teardown (its output and exit status intact)."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python(code: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_a_local_ray_starts_without_its_api_server_and_monitor_runs_work_and_shuts_down_whole():
    done = python(
        "import json, ray\n"
        "from ray._private import worker\n"
        "from ray._private.node import Node\n"
        "from ray.util.placement_group import placement_group\n"
        "from platform.ray_session import connect, disconnect\n"
        "originals = (Node.start_api_server, Node.start_monitor)\n"
        "connect(num_cpus=1)\n"
        "node = worker._global_node\n"
        "processes = [info.process for infos in node.all_processes.values() for info in infos]\n"
        "@ray.remote\n"
        "def one():\n"
        "    return 1\n"
        "ok = ray.get(one.remote()) == 1\n"
        "group = placement_group([{'CPU': 1}])\n"
        "ok = ok and ray.get(group.ready(), timeout=60) is not None\n"
        "kinds = sorted(node.all_processes)\n"
        "disconnect()\n"
        "print(json.dumps({'kinds': kinds, 'ran': ok, 'alive': [p.pid for p in processes if p.poll() is None],\n"
        "                  'restored': (Node.start_api_server, Node.start_monitor) == originals,\n"
        "                  'initialized': ray.is_initialized()}))")
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "dashboard" not in result["kinds"] and "monitor" not in result["kinds"], result
    assert {"gcs_server", "raylet", "log_monitor"} <= set(result["kinds"]), result
    assert (result["ran"], result["alive"], result["restored"], result["initialized"]) == (True, [], True, False)


def test_ray_starts_as_usual_where_its_internals_differ(monkeypatch):
    from ray._private.node import Node

    from platform.lean_local_ray import without_unused_head_processes

    monkeypatch.delattr(Node, "start_monitor")
    api_server = Node.start_api_server
    with without_unused_head_processes() as skipped:
        assert (skipped, Node.start_api_server) == (False, api_server)


def test_a_command_ending_without_teardown_keeps_its_output_and_exit_status():
    body = ("import sys\n"
            "from platform import ray_session\n"
            "from platform.command_exit import run_then_exit\n"
            "ray_session._connected.append(True)   # as connect() records it: this process ran Ray\n"
            "def main():\n"
            "    print('unflushed', end='')\n"
            "    sys.stderr.write('err')\n"
            "    {exit}\n"
            "run_then_exit(main)\n")
    for statement, code, stderr in (("pass", 0, "err"), ("sys.exit(0)", 0, "err"), ("sys.exit(2)", 2, "err"),
                                    ("sys.exit(None)", 0, "err"), ("sys.exit('bad: field')", 1, "errbad: field\n")):
        done = python(body.format(exit=statement))
        assert (done.returncode, done.stdout, done.stderr) == (code, "unflushed", stderr), statement


def test_an_exception_in_a_command_still_ends_with_its_traceback():
    done = python("from platform.command_exit import run_then_exit\n"
                  "def main():\n"
                  "    raise RuntimeError('a bug, not a result')\n"
                  "run_then_exit(main)\n")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "RuntimeError: a bug, not a result" in done.stderr


def test_a_command_that_never_reached_ray_exits_the_normal_way_so_it_can_run_inside_another_program():
    done = python("from platform.command_exit import run_then_exit\n"
                  "import sys\n"
                  "def main():\n"
                  "    sys.exit(2)\n"
                  "try:\n"
                  "    run_then_exit(main)\n"
                  "except SystemExit as done:\n"
                  "    print('still here', done.code)\n")
    assert (done.returncode, done.stdout.strip()) == (0, "still here 2")
