"""Every Python example of docs/integrations/ runs as written, after the page's earlier examples,
in a fresh process and folder.
test.sh runs the transformers ones again against the lowest transformers the hf extra allows."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations"
#: A page's blocks build on each other as a reader runs them: block N runs after blocks 1..N-1.
BLOCKS = {
    page.stem: re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    for page in sorted(DOCS.glob("*.md"))
}
EXAMPLES = {
    f"{stem}-{number}": "\n".join(blocks[:number])
    for stem, blocks in BLOCKS.items()
    for number in range(1, len(blocks) + 1)
}


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
def test_the_example_runs_as_written(example, tmp_path):
    source = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    finished = subprocess.run([sys.executable, "-c", EXAMPLES[example]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
