"""One example spec per family, with non-default keys, and a local Ray head, shared by the tests."""

import contextlib
import fcntl
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
    """A Ray head on 127.0.0.1 started with ``env``; its address, then it is stopped, all of it."""
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    if ray is None:
        pytest.fail("Ray is not installed: ./test.sh installs it (budgetlr[ray])")
    port = free_port()
    # A short temp dir: Ray's Unix sockets live there and their paths are limited to ~107 bytes.
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    start = [ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"]  # fmt: skip
    with ray_lock():
        # A session of its own: every process of the head is in the process group of `ray start`.
        started = subprocess.Popen(start, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                   start_new_session=True)  # fmt: skip
        try:
            output, _ = started.communicate(timeout=180)
            assert started.returncode == 0, output
            yield f"127.0.0.1:{port}"
        finally:
            stop_process_group(started.pid)
            shutil.rmtree(temp, ignore_errors=True)


@contextlib.contextmanager
def ray_lock(exclusive=False):
    """Hold the lock every test that starts Ray holds, across the test processes: shared by the
    tests' own heads (stopped as a process group, they leave other Rays alone), exclusive for a
    page of the docs that stops Ray with `ray stop`, which stops every Ray of this user."""
    with open(Path(tempfile.gettempdir()) / "budgetlr-tests-ray.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def process_group(pgid):
    """The running processes of the group ``pgid`` (zombies have ended: only not yet reaped)."""
    import psutil

    def member(process):
        try:
            return os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            return False

    return [process for process in psutil.process_iter() if member(process)]


def stop_process_group(pgid):
    """Stop every process of the group ``pgid`` (one Ray head, with its client server,
    DashboardAgent and RuntimeEnvAgent, whose command lines name no session folder) and no other
    Ray on the machine (``ray stop`` would stop every Ray of this user)."""
    import psutil

    processes = process_group(pgid)
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    # Those that end on SIGTERM do so within a second or two; a longer wait only delays the kill.
    _, alive = psutil.wait_procs(processes, timeout=5)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=10)
