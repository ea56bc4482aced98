"""docs/_ext/pasted_figure.py: a picture glued in one page, shown as a figure on another.

Each test builds a throwaway site with the repository's conf.py
(:func:`tests.conftest.build_pages`): a notebook page that glues a picture it
never shows, and a page that runs nothing and shows it as a figure.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.conftest import build_pages, notebook_page

#: A 1 x 1 PNG: enough for a picture that is only ever glued.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)

GLUES = notebook_page(
    "from IPython.display import Image\n"
    "from myst_nb import glue\n"
    f"glue('picture', Image(data={PIXEL!r}, format='png'), display=False)\n"
    "glue('words', 'not a picture', display=False)",
    title="Glues",
)


def front(argument: str, options: str = ":alt: One dot, in colour.\n:width: 40px\n") -> str:
    """A page that runs nothing and pastes ``argument`` as a figure with a caption."""
    return f"# Front\n\n```{{pasted-figure}} {argument}\n{options}\nThe caption.\n```\n"


@pytest.mark.docs
class TestPastedFigure:
    def test_a_picture_never_shown_is_pasted_with_alt_width_and_caption(
        self, tmp_path: Path
    ) -> None:
        """The figure's image has its alt text and width, its caption, and a file of its own."""
        done = build_pages(tmp_path, {"glues": GLUES, "front": front("glues.md::picture")})
        assert done.returncode == 0, done.stderr[-3000:]
        html = (tmp_path / "html" / "front.html").read_text(encoding="utf-8")
        figure = re.search(r'<figure class="pasted-figure[^"]*".*?</figure>', html, re.S)
        assert figure, "no pasted figure on the page"
        image = re.search(
            r'<img alt="One dot, in colour\." src="([^"]+)" style="width: 40px;"', figure[0]
        )
        assert image, figure[0]
        assert "The caption." in figure[0]
        assert (tmp_path / "html" / image[1]).read_bytes() == PIXEL

    def test_a_missing_key_stops_a_strict_build_naming_it(self, tmp_path: Path) -> None:
        """A key the other page did not glue is myst-nb's one warning, an error under -W."""
        done = build_pages(tmp_path, {"glues": GLUES, "front": front("glues.md::nothing")})
        assert done.returncode != 0
        assert "Glue reference 'nothing' not found in doc 'glues'" in done.stderr

    def test_what_is_not_a_picture_is_refused(self, tmp_path: Path) -> None:
        """A glued output that is not a picture is an error naming the key and the page."""
        done = build_pages(tmp_path, {"glues": GLUES, "front": front("glues.md::words")})
        assert done.returncode != 0
        assert "pasted-figure: 'words' of 'glues' is not a picture" in done.stderr

    def test_an_argument_without_a_page_or_alt_text_is_refused(self, tmp_path: Path) -> None:
        """No ``<page>::`` or no ``:alt:``: one error each, saying what to give."""
        pages = {
            "glues": GLUES,
            "front": front("picture"),
            "other": front("glues.md::picture", options=":width: 40px\n").replace(
                "# Front", "# Other"
            ),
        }
        done = build_pages(tmp_path, pages)
        assert done.returncode != 0
        assert "pasted-figure needs <page>::<key>" in done.stderr
        assert "pasted-figure needs :alt: text" in done.stderr
