"""One example spec per family, with non-default keys, and a local Ray head, shared by the tests."""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from budgetlr.bench.executors import RAY_SINGLE_MACHINE
from budgetlr.schedules import FAMILIES

#: Ray reads these when first imported, and some tests import it in this process before a fixture
#: could set them: loopback addresses only and no auth token, whatever an earlier Ray left in ~/.ray.
RAY_TEST_ENV = {RAY_SINGLE_MACHINE: "0", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
for variable, value in RAY_TEST_ENV.items():
    os.environ.setdefault(variable, value)

#: One spec per registered family: the first its docstring's example runs (keys away from defaults).
EXAMPLES = {
    name: re.search(r'schedule\("(.+?)", \d+\)', family.__doc__ or "").group(1)
    for name, family in FAMILIES.items()
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ray_head(monkeypatch):
    # The head and this driver agree: loopback addresses only (Ray's single-machine mode) and no
    # auth token, whatever an earlier Ray left in ~/.ray.
    for variable, value in RAY_TEST_ENV.items():
        monkeypatch.setenv(variable, value)
    with local_ray_head(dict(os.environ)) as address:
        yield address


@contextlib.contextmanager
def local_ray_head(env):
    """A Ray head on 127.0.0.1 started with ``env``; its address, then it is stopped."""
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    if ray is None:
        pytest.fail("Ray is not installed: ./test.sh installs it (budgetlr[ray])")
    port = free_port()
    # A short temp dir: Ray's Unix sockets live there and their paths are limited to ~107 bytes.
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    start = [ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"]  # fmt: skip
    try:
        started = subprocess.run(start, capture_output=True, text=True, env=env, timeout=180)
        assert started.returncode == 0, started.stdout + started.stderr
        yield f"127.0.0.1:{port}"
    finally:
        stop_processes_under(temp)
        shutil.rmtree(temp, ignore_errors=True)


def stop_processes_under(temp):
    """Stop this head's processes, found by their session folder under ``temp``, and no other
    Ray on the machine (``ray stop`` would stop every Ray of this user)."""
    import psutil

    def mine(process):
        try:
            return any(temp in part for part in process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False

    processes = [process for process in psutil.process_iter() if mine(process)]
    for process in processes:
        process.terminate()
    # Those that end on SIGTERM do so within a second; three of a head's never do (measured: still
    # running 25 s later), so a longer wait only delays their kill.
    _, alive = psutil.wait_procs(processes, timeout=3)
    for process in alive:
        process.kill()
    psutil.wait_procs(alive, timeout=10)
