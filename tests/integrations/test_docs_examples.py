"""Every Python example of docs/integrations/ runs as written, in a fresh process and folder.
test.sh runs the transformers ones again against the lowest transformers the hf extra allows."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations"
EXAMPLES = {
    f"{page.stem}-{number}": code
    for page in sorted(DOCS.glob("*.md"))
    for number, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S), start=1)
}


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
def test_the_example_runs_as_written(example, tmp_path):
    source = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    finished = subprocess.run([sys.executable, "-c", EXAMPLES[example]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
