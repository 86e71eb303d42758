"""`budgetlr bench --executor ray --address`: against a Ray head the test starts on loopback, and a
one-line error (exit 2) when nothing listens at the address."""

import contextlib
import os
import sqlite3
import subprocess

import pytest

from budgetlr.bench.executors import RAY_SINGLE_MACHINE
from budgetlr.cli import main
from tests.conftest import free_port, local_ray_head
from tests.helpers import BUDGETLR

SWEEP = ["bench", "--workload", "quadratic(dim=8)", "--schedules", "cosine,linear", "--budgets", "0.05",
         "--seeds", "0", "--lrs", "0.1", "--executor", "ray", "--quiet", "--no-report"]  # fmt: skip


def test_an_address_where_no_head_listens_is_one_line_exit_2(tmp_path, capsys):
    address = f"127.0.0.1:{free_port()}"
    assert main([*SWEEP, "--address", address, "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"budgetlr: error: cannot reach a Ray head at {address} (Connection refused)")
    assert "ray start --head" in error


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1:port"])
def test_an_address_without_a_port_is_one_line_exit_2(tmp_path, capsys, address):
    assert main([*SWEEP, "--address", address, "--out", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err
        == f"budgetlr: error: --address {address!r} must be HOST:PORT, e.g. 10.0.0.5:6379\n"
    )


@pytest.mark.slow
def test_bench_runs_on_a_separately_started_head(ray_head, tmp_path):
    command = [BUDGETLR, *SWEEP[:-1], "--address", ray_head, "--out", str(tmp_path)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    with sqlite3.connect(tmp_path / "results.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM trials WHERE status = 'ok'").fetchone() == (2,)


@pytest.mark.slow
def test_a_head_that_needs_another_token_is_one_line_exit_2(tmp_path):
    loopback = {RAY_SINGLE_MACHINE: "0", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    head = {**os.environ, **loopback, "RAY_AUTH_TOKEN": "a" * 32}
    with local_ray_head(head) as address:
        driver = {**os.environ, **loopback, "RAY_AUTH_TOKEN": "b" * 32}
        finished = bench_on(address, driver, tmp_path)
    last = one_error_line(finished, address)
    assert "RAY_AUTH_TOKEN" in last
    assert not (tmp_path / "results.db").exists() or stored_count(tmp_path) == 0


@pytest.mark.slow
def test_a_driver_set_to_token_authentication_without_a_token_is_told_so(tmp_path):
    # Ray refuses such a driver itself, whatever the head does (here: no authentication), so the
    # head does not "require" anything. Two drivers: no token anywhere, and a token file that is
    # not there.
    loopback = {RAY_SINGLE_MACHINE: "0", "RAY_USAGE_STATS_ENABLED": "0"}
    home = tmp_path / "home"  # no ~/.ray/auth_token
    home.mkdir()
    drivers = [{}, {"RAY_AUTH_TOKEN_PATH": str(tmp_path / "missing-token")}]
    with local_ray_head({**os.environ, **loopback, "RAY_AUTH_MODE": "disabled"}) as address:
        for number, extra in enumerate(drivers):
            driver = {**os.environ, **loopback, "RAY_AUTH_MODE": "token", "HOME": str(home), **extra}
            driver.pop("RAY_AUTH_TOKEN", None)
            last = one_error_line(bench_on(address, driver, tmp_path / f"out{number}"), address)
            assert "this driver runs with token authentication (RAY_AUTH_MODE=token) but has no token" in last
            assert "requires" not in last


def bench_on(address, env, out):
    command = [BUDGETLR, *SWEEP, "--address", address, "--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def one_error_line(finished, address):
    """budgetlr's error: exit 2, and the last line of stderr and the only one of budgetlr's (Ray's
    core logs its attempts above it)."""
    assert finished.returncode == 2, finished.stderr[-2000:]
    last = finished.stderr.splitlines()[-1]
    assert last.startswith(f"budgetlr: error: cannot connect to the Ray cluster at {address}: ")
    assert finished.stderr.count("budgetlr: error") == 1
    return last


def stored_count(out):
    with sqlite3.connect(out / "results.db") as connection:
        return connection.execute("SELECT COUNT(*) FROM trials").fetchone()[0]


@pytest.mark.slow
def test_the_tests_stop_of_a_head_leaves_none_of_its_processes():
    # The head's processes: those that name its port, and their children. The client server names
    # the port but not the session folder; DashboardAgent and RuntimeEnvAgent name neither.
    import psutil

    def named(process):
        with contextlib.suppress(psutil.Error):
            return " ".join(process.cmdline())
        return ""

    with local_ray_head(dict(os.environ)) as address:
        port = address.rpartition(":")[2]
        naming = [process for process in psutil.process_iter() if f":{port}" in named(process)]
        head = {*naming, *(child for process in naming for child in process.children(recursive=True))}
        commands = " | ".join(named(process) for process in head)
        for name in ("ray.util.client.server", "ray::DashboardAgent", "ray::RuntimeEnvAgent"):
            assert name in commands
    running = [named(process) for process in head if process.is_running() and process.status() != "zombie"]
    assert not running
