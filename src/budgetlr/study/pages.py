"""The study's pages rendered from Jinja2 templates (``budgetlr/study/templates``): a section
function gathers the numbers, a template holds the prose around them.

Templates see three filters: ``f`` (Python's format mini-language, ``{{ x|f("+.2%") }}``),
``paragraph`` (a block of template lines becomes one markdown line, so the prose can be wrapped
in the template) and ``table`` (a :class:`Table` as markdown, **bold** best, **bold (worse)** worst, *italic* ties).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

#: A table cell: its text and its style ("" plain, "best" bold, "worst" bold and marked "worse",
#: "tie" italic): what goes before and after its text.
Styled = tuple[str, str]
MARKS = {"best": ("**", "**"), "worst": ("**", " (worse)**"), "tie": ("*", "*"), "": ("", "")}


@dataclass
class Table:
    header: list[str]
    rows: list[list[Styled]]


def markdown_table(table: Table) -> str:
    lines = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    lines += [
        "| " + " | ".join(f"{MARKS[s][0]}{t}{MARKS[s][1]}" for t, s in row) + " |" for row in table.rows
    ]
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


STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
)
INLINE = (("**", "b"), ("*", "i"), ("`", "code"))
IMAGE = re.compile(r"!\[(.*)\]\((.*)\)")


def inline_html(text: str) -> str:
    """Escaped text with the marks the templates use: **bold**, *italic* and `code`."""
    text = html.escape(text)
    for mark, tag in INLINE:
        pieces = text.split(mark)
        text = "".join(p if i % 2 == 0 else f"<{tag}>{p}</{tag}>" for i, p in enumerate(pieces))
    return text


def markdown_html(text: str, title: str) -> str:
    """A page the templates wrote in markdown, as one HTML file: its headings, paragraphs, images
    and tables (the only markdown they write)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body>"]  # fmt: skip
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if block.startswith("#"):
            level = len(block) - len(block.lstrip("#"))
            parts.append(f"<h{level}>{html.escape(block[level:].strip())}</h{level}>")
        elif image := IMAGE.fullmatch(block):
            alt, path = (html.escape(part) for part in image.groups())
            parts.append(f"<p><img src='{path}' alt='{alt}'></p>")
        elif block.startswith("|"):
            rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
            header = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
            body = "".join(
                "<tr>" + "".join(f"<td>{inline_html(cell)}</td>" for cell in row) + "</tr>"
                for row in rows[2:]
            )
            parts.append(f"<table><tr>{header}</tr>{body}</table>")
        else:
            parts.append(f"<p>{inline_html(block)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
