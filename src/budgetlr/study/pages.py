"""The study's pages rendered from Jinja2 templates (``budgetlr/study/templates``): a section
function gathers the numbers, a template holds the prose around them.

Templates see three filters: ``f`` (Python's format mini-language, ``{{ x|f("+.2%") }}``),
``paragraph`` (a block of template lines becomes one markdown line, so the prose can be wrapped
in the template) and ``table`` (a :class:`Table` as markdown, **bold** best and *italic* ties).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

#: A table cell: its text and its style ("" plain, "best" bold, "tie" italic).
Styled = tuple[str, str]
MARKS = {"best": "**", "tie": "*", "": ""}


@dataclass
class Table:
    header: list[str]
    rows: list[list[Styled]]


def markdown_table(table: Table) -> str:
    lines = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(f"{MARKS[s]}{t}{MARKS[s]}" for t, s in row) + " |" for row in table.rows]
    return "\n".join(lines)


def paragraph(text: str) -> str:
    """One line, and the blank line that ends a markdown paragraph."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) + "\n"


ENVIRONMENT = Environment(
    loader=PackageLoader("budgetlr.study", "templates"),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    autoescape=False,  # markdown, not HTML
)
ENVIRONMENT.filters.update(f=format, paragraph=paragraph, table=markdown_table)


@dataclass(frozen=True)
class Section:
    """A part of a page: its template under ``templates/`` and the fields it reads."""

    template: str
    fields: dict[str, Any]

    def text(self) -> str:
        return render(self.template, **self.fields)


def page_text(sections: Section | Sequence[Section]) -> str:
    """The sections one after the other, a blank line between them, as a markdown file."""
    parts = [sections] if isinstance(sections, Section) else sections
    return "\n\n".join(text for section in parts if (text := section.text())) + "\n"


def render(template: str, **fields: Any) -> str:
    """The template's blocks, separated by one blank line, with no blank line around them."""
    text = ENVIRONMENT.get_template(template).render(**fields)
    blocks = [block.strip("\n") for block in text.split("\n\n")]
    return "\n\n".join(block for block in blocks if block.strip())
