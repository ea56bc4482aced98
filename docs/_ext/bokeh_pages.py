"""BokehJS for the pages that show interactive timelines, served by the site itself.

A notebook cell that ends with :func:`schedtutor.interactive.timelines` shows
Bokeh's embeddable ``<div>`` and ``<script>`` (``bokeh.embed.components``):
the plot's data and a call to ``Bokeh.embed.embed_items``, which draws once
BokehJS, Bokeh's JavaScript library, is on the page.  The site must open with
no network beyond itself (the browser test blocks every other host), so no
CDN: this extension copies ``bokeh.min.js`` from the installed bokeh package
into the build's ``_static/bokeh/``, named with its version so a browser
never keeps an old one, and adds it to each page whose notebook output
embeds a Bokeh document -- and only to those.  BokehJS and the Python
package that wrote the embedded document are then always the same version.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

#: What every document ``bokeh.embed.components`` writes calls.
EMBED_CALL = "Bokeh.embed.embed_items"


def bokeh_js() -> tuple[Path, str]:
    """Return the installed package's ``bokeh.min.js`` and the name it is served under."""
    import bokeh
    from bokeh.util.paths import bokehjs_path

    return bokehjs_path() / "js" / "bokeh.min.js", f"bokeh/bokeh-{bokeh.__version__}.min.js"


def embeds_bokeh(doctree: nodes.Node) -> bool:
    """Whether a page's raw HTML (a notebook's HTML output) embeds a Bokeh document."""
    return any(
        "html" in node.get("format", "") and EMBED_CALL in node.astext()
        for node in doctree.findall(nodes.raw)
    )


def add_bokeh_js(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Load BokehJS, from the site's own ``_static``, on a page that embeds a Bokeh plot."""
    if doctree is not None and embeds_bokeh(doctree):
        app.add_js_file(bokeh_js()[1])


def copy_bokeh_js(app: Sphinx, exception: BaseException | None) -> None:
    """Copy ``bokeh.min.js`` into the HTML build's ``_static/bokeh/``."""
    if exception is not None or app.builder.format != "html":
        return
    source, name = bokeh_js()
    target = Path(app.outdir) / "_static" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the two hooks."""
    app.connect("html-page-context", add_bokeh_js)
    app.connect("build-finished", copy_bokeh_js)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
