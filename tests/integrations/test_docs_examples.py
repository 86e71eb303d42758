"""Every code block of docs/integrations/ runs as a reader runs it (tests/docs_blocks.py).
test.sh runs the transformers page again against the lowest transformers the hf extra allows."""

import pytest

from tests.docs_blocks import ROOT, page_id, run_page, runnable, unknown_blocks

PAGES = sorted((ROOT / "docs" / "integrations").glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_block_says_whether_it_runs(page):
    assert not unknown_blocks(page), f"{page_id(page)}: blocks fenced neither to run nor to show"


@pytest.mark.slow
@pytest.mark.parametrize("page", runnable(PAGES), ids=page_id)
def test_the_pages_blocks_run_in_order(page, tmp_path):
    run_page(page, tmp_path)
