"""The library installs and imports light: numpy is its only dependency, and the commands that
need no extra load no torch or matplotlib; every extra that is missing is named in one line.

The core tests run in ``.venv-core``, built by ``scripts/bootstrap.sh core`` from locks/core.txt:
budgetlr installed as ``pip install .`` installs it, with no extra.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import ROOT
from tests.plan.test_cli_plan import POWER_FIT

HEAVY = ("torch", "matplotlib")


def heavy_modules_after(argv: list[str]) -> list[str]:
    """Runs ``budgetlr ARGV`` in a fresh interpreter of this environment (every extra installed)
    and returns the heavy modules it loaded."""
    code = textwrap.dedent(f"""
        import json, sys
        from budgetlr.cli import main
        code = main({argv!r})
        sys.stderr.write(json.dumps([code, sorted(set({HEAVY!r}) & set(sys.modules))]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    exit_code, heavy = json.loads(done.stderr.strip().splitlines()[-1])
    assert exit_code == 0, done.stderr
    return heavy


def test_import_budgetlr_imports_no_torch_with_every_extra_installed():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import budgetlr"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "budgetlr" in imported
    assert not [name for name in imported if name.split(".")[0] in (*HEAVY, "scipy")]


def test_list_show_and_plan_predict_load_no_torch_or_matplotlib(tmp_path):
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps(POWER_FIT))
    assert heavy_modules_after(["list"]) == []
    assert heavy_modules_after(["show", "cosine", "uba(phi=0.5)", "--steps", "100"]) == []
    assert (
        heavy_modules_after(
            ["plan", "predict", str(fit), "--schedule", "cosine", "--steps", "100", "--peak", "0.1"]
        )
        == []
    )


def test_a_plot_is_what_loads_matplotlib(tmp_path):
    assert heavy_modules_after(["show", "cosine", "--steps", "100", "--plot", str(tmp_path / "c.png")]) == [
        "matplotlib"
    ]


@pytest.fixture(scope="module")
def core_python():
    """``.venv-core``'s Python, with this tree installed into it."""
    subprocess.run([str(ROOT / "scripts" / "bootstrap.sh"), "core"], check=True, capture_output=True)
    return ROOT / ".venv-core" / "bin" / "python"


def run_core(core_python, *argv, cwd=None):
    return subprocess.run([str(core_python), *argv], capture_output=True, text=True, timeout=120, cwd=cwd)


def budgetlr_core(core_python, *argv, cwd=None):
    return subprocess.run(
        [str(core_python.parent / "budgetlr"), *argv], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.mark.slow
def test_the_core_install_holds_numpy_and_no_extra(core_python, tmp_path):
    code = "import importlib.util as u; print([m for m in ('torch', 'matplotlib', 'scipy', 'tqdm') if u.find_spec(m)])"
    assert run_core(core_python, "-c", code, cwd=tmp_path).stdout.strip() == "[]"
    # Installed, not run from the source tree: the package comes from site-packages.
    done = run_core(core_python, "-c", "import budgetlr; print(budgetlr.__file__)", cwd=tmp_path)
    assert "site-packages" in done.stdout


@pytest.mark.slow
def test_the_library_and_its_commands_work_with_no_extra(core_python, tmp_path):
    code = "import budgetlr; print(budgetlr.schedule('uba(phi=0.5)', 100).multiplier(50))"
    assert run_core(core_python, "-c", code, cwd=tmp_path).stdout == "0.8\n"
    listed = budgetlr_core(core_python, "list", cwd=tmp_path)
    assert listed.returncode == 0 and "\nuba  [arXiv 2505.24452]" in listed.stdout
    shown = budgetlr_core(core_python, "show", "cosine", "--steps", "100", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    # cosine's multiplier at T / 2 is (1 + cos(pi / 2)) / 2
    assert "\n      50           0.5\n" in shown.stdout
    written = budgetlr_core(core_python, "show", "wsd", "--steps", "10", "--csv", "wsd.csv", cwd=tmp_path)
    assert written.returncode == 0 and (tmp_path / "wsd.csv").read_text().startswith("step,wsd\n0,1.0\n")
    assert budgetlr_core(core_python, "--help", cwd=tmp_path).returncode == 0


BENCH_PACKAGES = "torch, matplotlib, scipy, tqdm, scikit-learn, mnist1d, schedulefree, jinja2"


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv, message",
    [
        (["bench"], f"budgetlr bench needs {BENCH_PACKAGES}: pip install 'budgetlr[bench]'"),
        (["report"], f"budgetlr report needs {BENCH_PACKAGES}: pip install 'budgetlr[bench]'"),
        (["recommend", "--budget-fraction", "0.5"], f"budgetlr recommend needs {BENCH_PACKAGES}: pip install 'budgetlr[bench]'"),
        (["pbt", "--workload", "quadratic", "--budget-fraction", "0.5"], f"budgetlr pbt needs {BENCH_PACKAGES}: pip install 'budgetlr[bench]'"),
        (["plan", "predict", "fit.json", "--schedule", "cosine", "--steps", "10", "--peak", "1"],
         "budgetlr plan needs scipy, tqdm: pip install 'budgetlr[plan]'"),
        (["plan", "design", "fit.json", "--steps", "10", "--peak", "1"],
         "budgetlr plan needs scipy, tqdm: pip install 'budgetlr[plan]'"),
        (["plan", "lr", "fit.json", "fit.json", "--schedule", "cosine", "--steps", "10"],
         "budgetlr plan needs scipy, tqdm: pip install 'budgetlr[plan]'"),
        (["show", "cosine", "--steps", "10", "--plot", "c.png"], "--plot needs matplotlib: pip install 'budgetlr[plot]'"),
        (["show", "cosine", "--budget", "1e6 tokens", "--per-step", "1e4"],
         "budgetlr show --budget needs torch: pip install 'budgetlr[torch]'"),
    ],
)  # fmt: skip
def test_a_command_without_its_extra_says_which_in_one_line(core_python, tmp_path, argv, message):
    (tmp_path / "fit.json").write_text(json.dumps(POWER_FIT))
    done = budgetlr_core(core_python, *argv, cwd=tmp_path)
    assert (done.returncode, done.stderr, done.stdout) == (2, f"budgetlr: error: {message}\n", "")
    assert not (tmp_path / "c.png").exists() and not (tmp_path / "budgetlr-results").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "code, message",
    [
        ("from budgetlr.torch import BudgetScheduler", "budgetlr.torch needs torch: pip install 'budgetlr[torch]'"),
        ("import budgetlr.plan", "budgetlr.plan needs scipy: pip install 'budgetlr[plan]'"),
        ("import budgetlr.adaptive.curvature", "budgetlr.adaptive needs torch: pip install 'budgetlr[torch]'"),
        ("from budgetlr.integrations import transformers",
         "budgetlr.integrations.transformers needs transformers: pip install 'budgetlr[hf]'"),
        ("from budgetlr.integrations.lightning import RecordRun",
         "budgetlr.integrations.lightning needs lightning: pip install 'budgetlr[lightning]'"),
        ("from budgetlr.recording import RunRecorder; RunRecorder('run.csv').record(0, 0.1, 2.5)", None),
        ("from budgetlr.optax import schedule; schedule('cosine', 10)", "budgetlr.optax needs jax: pip install 'budgetlr[jax]'"),
        ("from budgetlr.plotting import pyplot; pyplot()", "a plot needs matplotlib: pip install 'budgetlr[plot]'"),
        ("from budgetlr.bench.workloads import Workload", "budgetlr.bench.workloads needs torch: pip install 'budgetlr[bench]'"),
    ],
)  # fmt: skip
def test_a_module_without_its_extra_raises_one_line_naming_it(core_python, tmp_path, code, message):
    done = run_core(core_python, "-c", code, cwd=tmp_path)
    if message is None:  # needs no extra
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"budgetlr._extras.MissingExtra: {message}"


def test_a_worker_sets_its_threads_before_torch_is_imported():
    # A Ray worker imports the sweep module to unpickle run_one, then limit_threads runs.
    code = "import sys, budgetlr.bench.sweep, budgetlr.bench.runner; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "False\n"


def test_the_ray_executor_without_ray_is_one_line_before_anything_is_stored(tmp_path, monkeypatch, capsys):
    from budgetlr.cli import main
    from tests.helpers import hide_module

    hide_module(monkeypatch, "ray")
    out = tmp_path / "out"
    argv = ["bench", "--workload", "quadratic", "--schedules", "cosine", "--budgets", "0.05", "--lrs", "0.1",
            "--seeds", "0", "--executor", "ray", "--out", str(out), "--quiet", "--no-report"]  # fmt: skip
    assert main(argv) == 2
    assert (
        capsys.readouterr().err == "budgetlr: error: --executor ray needs ray: pip install 'budgetlr[ray]'\n"
    )
    assert not out.exists()
