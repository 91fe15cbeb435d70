"""What a sweep's end is cut by, each held to what it must not change: the autoscaler
monitor is stopped first (and Ray still shuts down whole), and a command that ran Ray
leaves without the interpreter's teardown (its output and exit status intact)."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python(code: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_a_local_ray_shuts_down_whole_its_monitor_killed_first():
    done = python(
        "import json, sys, ray\n"
        "from platform.ray_session import connect, disconnect\n"
        "from ray._private import worker\n"
        "connect(num_cpus=1)\n"
        "node = worker._global_node\n"
        "processes = [info.process for infos in node.all_processes.values() for info in infos]\n"
        "monitor = node.all_processes['monitor'][0].process\n"
        "@ray.remote\n"
        "def one():\n"
        "    return 1\n"
        "assert ray.get(one.remote()) == 1\n"
        "disconnect()\n"
        "print(json.dumps({'monitor_killed': monitor.returncode == -9,\n"
        "                  'alive': [p.pid for p in processes if p.poll() is None],\n"
        "                  'initialized': ray.is_initialized()}))")
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"monitor_killed": True, "alive": [], "initialized": False}


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
