"""A picture glued in one notebook, shown as a figure on another page.

myst-nb pastes a glued output into another page with its ``{glue}`` directive
and the ``:doc:`` option, images included; its ``{glue:figure}`` directive,
which adds a caption and alt text, only reads the page's own notebook (myst-nb
1.4: the key ``page.md::key`` is looked up as one name in this page's glue,
and the directive has no ``:doc:`` option).  The front page runs nothing, so
it needs the first with the features of the second::

    ```{pasted-figure} tutorials/02-slow-arithmetic.md::seed_timelines
    :alt: Four timelines, one per scheduler ...
    :width: 560px

    The caption, one paragraph.
    ```

The argument is ``<page>::<key>``, the page relative to this one as in
myst-nb's roles.  The directive leaves myst-nb's own pending cross-document
reference inside a figure, so myst-nb resolves the key exactly as ``{glue}``
would (a missing key is its one warning, which ``-W`` turns into an error);
once it has, a post-transform gives the image its alt text and width, and
writes the picture into the site's images when the notebook that glued it
did not also show it (a glued output that is never displayed has no file of
its own).  A glued output that is not a picture is an error.
"""

from __future__ import annotations

import base64
import json
from mimetypes import guess_type
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from myst_nb.ext.glue.utils import PendingGlueReferenceError, create_pending_glue_ref
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


class PastedFigure(SphinxDirective):
    """A figure whose picture is glued in another page's notebook."""

    required_arguments = 1
    has_content = True
    option_spec: ClassVar[dict[str, Any]] = {
        "alt": directives.unchanged_required,
        "width": directives.length_or_percentage_or_unitless,
        "name": directives.unchanged,
        "class": directives.class_option,
    }

    def run(self) -> list[nodes.Node]:
        page, sep, key = self.arguments[0].partition("::")
        if not sep or not page or not key:
            raise self.error(
                f"pasted-figure needs <page>::<key>, such as "
                f"tutorials/02-slow-arithmetic.md::seed_timelines; got {self.arguments[0]!r}"
            )
        if not self.options.get("alt"):
            raise self.error("pasted-figure needs :alt: text saying what the picture shows")
        try:
            ref = create_pending_glue_ref(
                self.state.document, self.get_source_info()[0], self.lineno, page, key
            )
        except PendingGlueReferenceError as error:
            raise self.error(f"pasted-figure: {error}") from None
        figure = nodes.figure("", ref, classes=["pasted-figure", *self.options.get("class", [])])
        figure["pasted_alt"] = self.options["alt"]
        figure["pasted_width"] = self.options.get("width", "")
        figure["pasted_from"] = (ref.refdoc, key)
        self.set_source_info(figure)
        self.add_name(figure)
        if self.content:
            parsed = nodes.Element()
            self.state.nested_parse(self.content, self.content_offset, parsed)
            first = parsed[0] if len(parsed) else None
            if not isinstance(first, nodes.paragraph):
                raise self.error("pasted-figure: the caption must be one paragraph")
            caption = nodes.caption(first.rawsource, "", *first.children)
            caption.source, caption.line = first.source, first.line
            figure += caption
            if len(parsed) > 1:
                figure += nodes.legend("", *parsed[1:])
        return [figure]


def glued(env: Any, docname: str, key: str) -> dict[str, Any]:
    """The output ``docname``'s notebook glued under ``key`` (empty if it glued none)."""
    folder = Path(env.mystnb_config.output_folder)
    path = folder.joinpath(*docname.split("/")[:-1], f"{docname.split('/')[-1]}.glue.json")
    if not path.is_file():
        return {}
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")).get(key, {})
    return found


class FinishPastedFigures(SphinxPostTransform):
    """Give each pasted picture its alt text and width, and make sure its file exists.

    Runs right after myst-nb replaces its pending cross-document references
    (priority 5).
    """

    default_priority = 6

    def run(self, **kwargs: Any) -> None:
        builder = self.app.builder
        for figure in list(self.document.findall(nodes.figure)):
            if "pasted_alt" not in figure:
                continue
            docname, key = figure["pasted_from"]
            image = next(iter(figure.findall(nodes.image)), None)
            if image is None:
                if any(True for _ in figure.findall(nodes.literal_block)):
                    logger.error(
                        f"pasted-figure: {key!r} of {docname!r} is not a picture",
                        location=figure,
                    )
                continue  # a missing key: myst-nb has said so
            image["alt"] = figure["pasted_alt"]
            if figure["pasted_width"]:
                image["width"] = figure["pasted_width"]
            if builder.format == "html":
                self.write_picture(image, docname, key)

    def write_picture(self, image: nodes.image, docname: str, key: str) -> None:
        """Write the glued picture where the image points, unless a page already showed it."""
        builder = self.app.builder
        target = Path(builder.outdir) / builder.imagedir / Path(image["uri"]).name
        mime = guess_type(target.name)[0]
        data = glued(self.env, docname, key).get("data", {})
        if target.exists() or mime not in data:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data[mime]))


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directive and its post-transform."""
    app.add_directive("pasted-figure", PastedFigure)
    app.add_post_transform(FinishPastedFigures)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
