"""README's summary of a study quotes the committed page it cites: every percentage it gives, at
the precision it gives it, is one of the page's (rounded half up, signs aside)."""

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PERCENT = re.compile(r"[-+]?(\d+(?:\.\d+)?)%")


def quoted(text: str) -> list[str]:
    return [number for number in PERCENT.findall(text) if "." in number]


@pytest.mark.parametrize(
    ("opening", "closing", "page"),
    [
        ("**What the fair study found**", "**What the first study found**", "docs/results.md"),
        ("**What the first study found**", "`budgetlr recommend --budget-fraction", "docs/study.md"),
    ],
)
def test_every_percentage_of_the_readmes_summary_is_on_the_page_it_cites(opening, closing, page):
    readme = (ROOT / "README.md").read_text()
    summary = readme[readme.index(opening) : readme.index(closing)]
    assert f"({page}" in summary or f"]({page})" in summary
    on_page = [Decimal(number) for number in quoted((ROOT / page).read_text())]
    for number in quoted(summary):
        step = Decimal(1).scaleb(-len(number.split(".")[1]))
        assert any(value.quantize(step, ROUND_HALF_UP) == Decimal(number) for value in on_page), number
