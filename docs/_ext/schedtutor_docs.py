"""Sphinx helpers for the schedtutor site: reference pages generated from the code.

A few small pieces, so that no reference page is typed by hand:

``schedtutor-cli``
    Renders the ``schedtutor`` command from its own parser
    (:func:`schedtutor.__main__.build_parser`): the usage line, then a section
    per subcommand with its usage and a table of its arguments.  A new option
    appears on the page as soon as it is added to the parser.

``schedtutor-api``
    Lists every public name of the package (``schedtutor.__all__``) with its
    one-line summary and a link to where it is documented, then runs
    ``automodule`` with ``:members:`` on every public module of the package
    (found with :mod:`pkgutil`, so a module added later is documented without
    an edit here).  A public name that no public module documents leaves an
    unresolved reference, which the nitpicky build turns into an error.

``schedtutor.<name>`` references
    A reference to a public name through the package (``schedtutor.run``)
    resolves to where it is documented (``schedtutor.timing.run``).

A missing graphviz
    stops the build before it starts, with one line saying how to install it.

A failing notebook
    ends the build with its failing cell and a last line naming the notebook
    and the error, instead of a Sphinx crash report.

The notebook kernels
    run with a temporary IPython profile of their own (see
    :func:`isolate_kernels`).  The two workarounds for them -- a start-up file
    that lets a kernel exit as soon as it is asked, and Unix sockets instead of
    TCP ports -- live with the others in ``docs/_ext/workarounds/``, each gated
    to the versions it was written for.

``.ipynb`` downloads
    myst-nb writes each executed notebook to ``<outdir>/../jupyter_execute``;
    sphinx-book-theme only copies it next to the sources when a launch button
    is configured.  We copy it ourselves and set ``ipynb_source``, so the
    theme's download menu offers the executed ``.ipynb`` of every notebook page.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import inspect
import os
import pkgutil
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_id
from workarounds import ipykernel_shutdown, nbclient_unix_sockets

#: Public modules in reading order; any other public module follows, sorted by name.
MODULE_ORDER = (
    "schedtutor.ops",
    "schedtutor.sleeplock",
    "schedtutor.schedulers",
    "schedtutor.timing",
    "schedtutor.graph",
    "schedtutor.trace",
    "schedtutor.timeline",
    "schedtutor.predict",
    "schedtutor.environment",
)


# -- The command line -----------------------------------------------------------------


@contextmanager
def _fixed_width(columns: int = 72) -> Any:
    """Make argparse wrap at ``columns`` whatever terminal the build runs in."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def _usage(parser: argparse.ArgumentParser) -> str:
    if hasattr(parser, "color"):  # Python 3.14+: never colour the page
        parser.color = False
    with _fixed_width():
        return parser.format_usage().strip()


def _argument_rows(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.option_strings:
            flags = ", ".join(action.option_strings)
            if action.nargs != 0:
                flags += f" {action.metavar or action.dest.upper()}"
        else:
            flags = str(action.metavar or action.dest)
        text = (action.help or "") % {"default": action.default, "prog": parser.prog}
        if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
            text += f" (one of: {', '.join(map(str, action.choices))})"
        if action.required and action.option_strings:
            text += " (required)"
        rows.append((flags, text))
    return rows


_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def _paragraph(text: str) -> nodes.paragraph:
    """A paragraph in which options such as ``--chunksize`` are literals.

    As plain text, Sphinx's smart quotes would turn their ``--`` into a dash.
    """
    paragraph = nodes.paragraph()
    for i, part in enumerate(_OPTION.split(text)):
        if part:
            paragraph += nodes.literal(text=part) if i % 2 else nodes.Text(part)
    return paragraph


def _table(header: tuple[str, str], rows: list[tuple[str, str]]) -> nodes.table:
    table = nodes.table(classes=["colwidths-auto"])
    group = nodes.tgroup(cols=2)
    table += group
    group += nodes.colspec(colwidth=30)
    group += nodes.colspec(colwidth=70)
    head = nodes.thead()
    group += head
    body = nodes.tbody()
    group += body
    for parent, cells, literal in ((head, header, False), *((body, r, True) for r in rows)):
        row = nodes.row()
        first, second = cells
        left = nodes.literal(text=first) if literal else nodes.Text(first)
        row += nodes.entry("", nodes.paragraph("", "", left))
        row += nodes.entry("", _paragraph(second) if literal else nodes.paragraph(text=second))
        parent += row
    return table


class CliDirective(SphinxDirective):
    """Render the ``schedtutor`` command from ``schedtutor.__main__.build_parser()``."""

    has_content = False

    def _section(self, title: str) -> nodes.section:
        section = nodes.section(ids=[make_id(self.env, self.state.document, "", title)])
        section["names"].append(nodes.fully_normalize_name(title))
        section += nodes.title(text=title)
        self.state.document.note_implicit_target(section, section)
        return section

    def run(self) -> list[nodes.Node]:
        from schedtutor.__main__ import build_parser

        parser = build_parser()
        self.env.note_dependency(inspect.getfile(build_parser))
        out: list[nodes.Node] = [
            nodes.paragraph(text=parser.description or ""),
            nodes.literal_block(text=_usage(parser), language="text"),
        ]
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for group in subparsers:
            helps = {a.dest: a.help or "" for a in group._choices_actions}
            commands = [(name, helps.get(name, "")) for name in group.choices]
            out.append(_table(("command", "what it does"), commands))
            for name, sub in group.choices.items():
                section = self._section(sub.prog)
                section += _paragraph(sub.description or helps.get(name, ""))
                section += nodes.literal_block(text=_usage(sub), language="text")
                section += _table(("argument", "meaning"), _argument_rows(sub))
                out.append(section)
        return out


# -- The API ----------------------------------------------------------------------


def public_modules(package: str = "schedtutor") -> list[str]:
    """Return the package's public modules: no leading underscore, reading order first.

    ``__main__`` (the command line) comes last.
    """
    root = importlib.import_module(package)
    found = sorted(
        f"{package}.{info.name}"
        for info in pkgutil.iter_modules(root.__path__)
        if not info.name.startswith("_")
    )
    first = [m for m in MODULE_ORDER if m in found]
    return [*first, *(m for m in found if m not in first), f"{package}.__main__"]


def _attribute_doc(name: str, modules: list[str]) -> str:
    for module in modules:
        try:
            docs = ModuleAnalyzer.for_module(module).find_attr_docs()
        except Exception:
            continue
        lines = docs.get(("", name))
        if lines:
            return " ".join(line.strip() for line in lines if line.strip())
    return ""


_RST_ROLE = re.compile(r":(?:py:)?(func|class|meth|data|attr|mod|obj|exc):`([^`]+)`")


def _summary(obj: Any, name: str, modules: list[str]) -> str:
    own = inspect.getdoc(obj) if (inspect.isroutine(obj) or inspect.isclass(obj)) else None
    text = own or _attribute_doc(name, modules)
    first = text.strip().split("\n\n")[0].replace("\n", " ")
    first = _RST_ROLE.sub(lambda m: f"{{py:{m[1]}}}`{m[2]}`", first)  # rST roles -> MyST
    return first.replace("``", "`").replace("|", "\\|")


def home_of(name: str, modules: list[str], package: str = "schedtutor") -> str | None:
    """Return the public module that documents ``package.name``, or None."""
    obj = getattr(importlib.import_module(package), name)
    own = getattr(obj, "__module__", None)
    if (inspect.isroutine(obj) or inspect.isclass(obj)) and own in modules:
        return str(own)
    for module in modules:
        mod = importlib.import_module(module)
        if name in getattr(mod, "__all__", ()) and getattr(mod, name, None) is obj:
            return module
    return None


class ApiDirective(SphinxDirective):
    """The public names of ``schedtutor`` and one ``automodule`` per public module."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        package = importlib.import_module("schedtutor")
        modules = public_modules()
        every = [m.name for m in pkgutil.iter_modules(package.__path__)]
        analyzed = [*modules, *(f"schedtutor.{m}" for m in every if m.startswith("_"))]
        for module in modules:
            self.env.note_dependency(inspect.getfile(importlib.import_module(module)))
        lines = [
            "## The public names",
            "",
            "Everything `from schedtutor import *` gives you; each links to the module that "
            "documents it.",
            "",
            "| name | what it is | module |",
            "|---|---|---|",
        ]
        for name in package.__all__:
            home = home_of(name, modules)
            target = f"{home}.{name}" if home else f"schedtutor.{name}"
            summary = _summary(getattr(package, name), name, analyzed)
            lines.append(
                f"| {{py:obj}}`{name} <{target}>` | {summary} | `{home or 'undocumented'}` |"
            )
        # Data documented only where it is defined (in a private module) would be skipped
        # by automodule; give it an explicit entry in the public module that exports it.
        extra: dict[str, list[str]] = {}
        for name in package.__all__:
            obj = getattr(package, name)
            home = home_of(name, modules)
            if home and not (inspect.isroutine(obj) or inspect.isclass(obj)):
                if not _attribute_doc(name, [home]):
                    doc = _attribute_doc(name, analyzed) or "(undocumented)"
                    kind = type(obj).__name__
                    entry = ["", f".. py:data:: {name}", f"   :type: {kind}", "", f"   {doc}"]
                    extra.setdefault(home, []).extend(entry)
        for module in modules:
            # autodoc writes reStructuredText, so it runs inside an eval-rst block
            lines += ["", f"## `{module}`", "", "```{eval-rst}", f".. automodule:: {module}"]
            lines += [*extra.get(module, []), "```"]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="schedtutor-api"), 0, container, True)
        return list(container.children)


def resolve_public_name(app: Sphinx, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve ``schedtutor.<name>`` for a public name to where it is documented.

    ``:func:`schedtutor.run``` is how users write it; the object is documented
    as ``schedtutor.timing.run``.
    """
    if node.get("refdomain") != "py":
        return None
    parts = str(node.get("reftarget", "")).split(".")
    package = importlib.import_module("schedtutor")
    if len(parts) < 2 or parts[0] != "schedtutor" or parts[1] not in package.__all__:
        return None
    home = home_of(parts[1], public_modules())
    if home is None:
        return None
    target = ".".join([home, *parts[1:]])
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], target, node, contnode
    )


# -- .ipynb downloads ----------------------------------------------------------------


def copy_notebook(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Offer the executed notebook of a MyST text notebook page for download."""
    if doctree is None or "kernelspec" not in app.env.metadata.get(pagename, {}):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.exists():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


# -- A failing notebook: say which and why, in the last lines of the log ------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def report_failed_notebook(app: Sphinx, exception: BaseException | None) -> None:
    """End the build with the failing cell and its error, not a Sphinx crash report.

    With ``nb_execution_raise_on_error`` myst-nb stops the build with an
    ``ExecutionError`` whose cause -- the cell and its error -- Sphinx would
    only save to a temporary file, under a request to report a Sphinx bug.
    Print the cell, its error, and last of all one line naming the notebook
    and the error (for a missing graphviz: how to install it); exit with 2.
    """
    from myst_nb.core.execute.base import ExecutionError

    if not isinstance(exception, ExecutionError):
        return
    cause = exception.__cause__
    where = Path(str(exception))
    try:
        where = where.relative_to(Path.cwd())
    except ValueError:
        pass
    if cause is None:
        summary, details = "see the log above", ""
    else:
        name = getattr(cause, "ename", type(cause).__name__)
        value = getattr(cause, "evalue", str(cause))
        summary = f"{name}: {value}".strip().splitlines()[0] if value else name
        details = _ANSI.sub("", str(cause)).rstrip()
    print(f"\n{details}\n", file=sys.stderr)
    print(f"error: the notebook {where} failed: {summary}", file=sys.stderr)
    raise SystemExit(2)


# -- A quiet, isolated IPython profile for the notebook kernels -------------------------

KERNEL_CONFIG = """\
# Written by docs/_ext/schedtutor_docs.py for the notebook kernels of one site build.
c.IPKernelApp.log_level = "ERROR"  # no start-up chatter in the build log
c.HistoryManager.enabled = False  # nothing to keep between builds
"""


def isolate_kernels() -> Path:
    """Point the notebook kernels at a fresh, temporary IPython profile; return its folder.

    The kernels that execute the notebooks inherit this process's environment.
    With ``IPYTHONDIR`` set to a temporary folder they ignore the user's own
    IPython profile (its start-up files could change what a notebook does) and
    log only errors, so the build log carries no kernel start-up warnings.  The
    profile's one start-up file lets each kernel exit as soon as it is asked
    (:mod:`workarounds.ipykernel_shutdown`, for the ipykernel versions that need it).
    """
    folder = Path(tempfile.mkdtemp(prefix="schedtutor-ipython-"))
    profile = folder / "profile_default"
    profile.mkdir()
    (profile / "ipython_kernel_config.py").write_text(KERNEL_CONFIG, encoding="utf-8")
    ipykernel_shutdown.install(profile)
    os.environ["IPYTHONDIR"] = str(folder)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def prepare_kernels() -> Path:
    """Set the notebook kernels up as the build runs them; return their profile's folder.

    An isolated profile (:func:`isolate_kernels`), and Unix sockets instead of
    TCP ports (:mod:`workarounds.nbclient_unix_sockets`, for the nbclient versions
    it was written for) in the same temporary folder.
    """
    folder = isolate_kernels()
    nbclient_unix_sockets.apply(folder)
    return folder


def require_dot() -> None:
    """Stop the build in one line, before anything runs, if graphviz's ``dot`` is missing.

    The tutorials draw their task graphs at build time.  Raised as a
    ``ConfigError`` the message would sit inside a Sphinx crash report, so it
    is printed alone and the build exits with status 2.
    """
    if shutil.which("dot") is None:
        from schedtutor.graph import MISSING_DOT

        print(f"error: cannot build the site: {MISSING_DOT}", file=sys.stderr)
        raise SystemExit(2)


def setup(app: Sphinx) -> dict[str, Any]:
    """Check for graphviz; register the directives and hooks; isolate the kernels."""
    require_dot()
    prepare_kernels()
    app.add_directive("schedtutor-cli", CliDirective)
    app.add_directive("schedtutor-api", ApiDirective)
    app.connect("missing-reference", resolve_public_name)
    app.connect("build-finished", report_failed_notebook)
    app.connect("html-page-context", copy_notebook, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
