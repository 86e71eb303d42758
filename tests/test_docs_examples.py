"""Every code block of README.md and docs/ (its integrations/ pages in
tests/integrations/test_docs_examples.py) runs as a reader runs it: tests/docs_blocks.py."""

import pytest

from tests.docs_blocks import ROOT, blocks, page_id, run_page, runnable, unknown_blocks

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_block_says_whether_it_runs(page):
    assert not unknown_blocks(page), f"{page_id(page)}: blocks fenced neither to run nor to show"


@pytest.mark.slow
@pytest.mark.parametrize("page", runnable(PAGES), ids=page_id)
def test_the_pages_blocks_run_in_order(page, tmp_path):
    run_page(page, tmp_path)


def test_the_ci_contract_is_the_readmes_first_block():
    number, language, code = blocks(ROOT / "README.md")[0]
    assert (number, language) == (1, "bash")
    commands = [line.split()[0] for line in code.splitlines() if line.strip()]
    assert commands == ["./run.sh", "./test.sh", "./test.sh"]
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("./test.sh")
