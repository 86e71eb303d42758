"""Running the code blocks of README.md and docs/ as a reader runs them (tests/test_docs_examples.py
and tests/integrations/test_docs_examples.py): a page's blocks in order, in one fresh folder that
links the repository's top level (so `.venv/bin/python benchmarks/...` works as it does from a
checkout). Consecutive Python blocks run in one fresh interpreter, after the page's earlier Python
blocks; a bash block runs under `set -euo pipefail` with this interpreter's `budgetlr` first on
PATH. Whatever a block starts must have ended when it returns (a block that stops Ray holds the
lock that every test starting Ray shares, alone, since `ray stop` stops every Ray of the user). Blocks
fenced `text` (output, a listing) or `toml` (a file's content) are shown, not run; a block in any
other language, or with none, fails."""

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import process_group, ray_lock, stop_process_group

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^ *```(\w*)\n(.*?)^ *```", re.S | re.M)
RUN = ("python", "bash")
SHOWN = ("text", "toml")
#: The README's first block is the CI contract itself: .ci/run runs ./test.sh (these tests among
#: them) on a clean clone, and ./run.sh is its setup-and-run command.
CI_CONTRACT = ("README.md", 1)


def page_id(page):
    return str(page.relative_to(ROOT).with_suffix("")).removeprefix("docs/")


def blocks(page):
    """(number, language, code) of each fenced block, indentation removed."""
    found = []
    for number, match in enumerate(FENCE.finditer(page.read_text()), 1):
        indent = len(match.group(0)) - len(match.group(0).lstrip(" "))
        code = "\n".join(line[indent:] for line in match.group(2).splitlines())
        found.append((number, match.group(1), code + "\n"))
    return found


def reader_folder(tmp_path):
    for entry in ROOT.iterdir():
        if entry.name not in (".git",):
            (tmp_path / entry.name).symlink_to(entry)
    return tmp_path


#: One Python session for a run of a page's Python blocks: each block's code is compiled under its
#: number, so a traceback names the block. Earlier sessions of the page are replayed first, quietly.
SESSION = """
import contextlib, io, json, sys
replayed, blocks = json.loads(sys.argv[1])
namespace = {"__name__": "__main__"}
for number, code in replayed:
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"<block {number}, replayed>", "exec"), namespace)
for number, code in blocks:
    exec(compile(code, f"<block {number}>", "exec"), namespace)
"""


def run(command, folder):
    """Run ``command`` in ``folder``, in a process group of its own so that whatever it starts and
    leaves running is found: the finished process, and the names of what was left."""
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "MPLBACKEND": "Agg",
    }
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=600)
        time.sleep(0.5)  # what a stop signalled has ended by now (Ray's stop waits for it)
        left = [member.name() for member in process_group(process.pid)]
    finally:
        stop_process_group(process.pid)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr), left


def sessions(page):
    """The page's runnable blocks in order: a bash block alone, consecutive Python blocks together."""
    found = []
    for number, language, code in blocks(page):
        if language not in RUN or (page.name, number) == CI_CONTRACT:
            continue
        if language == "python" and found and found[-1][0] == "python":
            found[-1][1].append((number, code))
        else:
            found.append((language, [(number, code)]))
    return found


def three_decimals(text):
    return re.findall(r"\b[01]\.\d{3}\b", text)


def coverage_table_is_printed(page, printed):
    """docs/statistics.md's coverage table holds what its script prints, in order."""
    table = [
        line for line in page.read_text().splitlines() if line.startswith("| one cell") or "seeds |" in line
    ]
    assert three_decimals("\n".join(table)) == three_decimals(printed)


#: What a page's Python blocks print that its text states.
PRINTED = {"statistics": coverage_table_is_printed}


def unknown_blocks(page):
    """The numbers and languages of the page's blocks fenced neither to run nor to show."""
    return [(number, language) for number, language, _ in blocks(page) if language not in RUN + SHOWN]


def runnable(pages):
    return [page for page in pages if any(language in RUN for _, language, _ in blocks(page))]


def run_page(page, tmp_path):
    """Run the page's blocks in order; fail naming the block that fails or leaves a process."""
    folder = reader_folder(tmp_path)
    replayed, printed = [], ""
    for language, session in sessions(page):
        numbers = ", ".join(str(number) for number, _ in session)
        code = "\n".join(code for _, code in session)
        if language == "python":
            command = [sys.executable, "-c", SESSION, json.dumps([replayed, session])]
        else:
            command = ["bash", "-c", "set -euo pipefail\n" + code]
        with ray_lock(exclusive=True) if "ray stop" in code else contextlib.nullcontext():
            finished, left = run(command, folder)
        assert finished.returncode == 0, (
            f"{page_id(page)} block {numbers}:\n{code}\n{finished.stderr[-3000:]}"
        )
        assert not left, f"{page_id(page)} block {numbers} left processes running: {left}"
        if language == "python":
            replayed += session
            printed = finished.stdout
    if page_id(page) in PRINTED:
        PRINTED[page_id(page)](page, printed)
