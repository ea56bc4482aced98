"""Checked claims: every marked sentence is backed by a check that ran in this build.

A page marks a sentence that states a fact with a MyST span whose class names
its claim (the ``attrs_inline`` extension)::

    [The threaded run took as long as the single-threaded one.]{.claim:threads-as-slow}

and a hidden cell of an executed page checks it with
:func:`schedtutor.claims.check`, which glues the result as ``claim:<label>``.
A claim may be marked on a page that runs nothing (an explanation) and checked
on one that does (a lesson): labels are global to the site, and one check may
back several sentences.

Once every page has been read, this extension

* stops the build, before anything is written, with one line per problem,
  when a marked sentence has no check, a check backs no sentence, a label is
  checked on two pages, or a check did not hold;
* refuses a claim the machine was too busy to verify (its check's status is
  ``unverified``) the same way -- unless ``SCHEDTUTOR_UNVERIFIED=mark``, for
  a local rebuild on a busy machine: then the build says so in one line per
  claim and the page marks it "not verified on this build";
* marks each claimed sentence with a small ✓ that links to its entry on the
  "What this build checked" page, its tooltip the evidence;
* fills that page (the ``schedtutor-claims`` directive) with every claim, page
  by page: the sentences (each linked back to where it stands), the evidence
  and the bound it was held to, and whether it held.

The data live in the build environment (an :class:`EnvironmentCollector`), so
a parallel read merges them and a cache-mode rebuild keeps those of the pages
it does not read again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.environment.collectors import EnvironmentCollector
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import docname_join, logging
from sphinx.util.docutils import SphinxDirective

from schedtutor import settings
from schedtutor.claims import GLUE_PREFIX, LABEL

logger = logging.getLogger(__name__)

CLASS_PREFIX = "claim:"
"""A claimed sentence's span has the class ``claim:<label>``."""


SYMBOLS = {"passed": "✓", "failed": "✗", "unverified": "?"}
WORDS = {"passed": "held", "failed": "did not hold", "unverified": "not verified on this build"}
TOOLTIPS = {
    "passed": "Checked by this build",
    "failed": "Did not hold in this build",
    "unverified": "Not verified on this build (the machine was busy)",
}


@dataclass
class Sentence:
    """A marked sentence: its claim, where it stands, what it says."""

    label: str
    docname: str
    anchor: str
    line: int | None
    text: str
    content: list[nodes.Node] = field(default_factory=list)


@dataclass
class Record:
    """A check's outcome, as the page that ran it glued it."""

    label: str
    docname: str
    status: str
    evidence: dict[str, str]
    bound: str
    load: str = ""

    def summary(self) -> str:
        """The evidence, the bound and the load in one line."""
        measured = "; ".join(f"{name} {value}" for name, value in self.evidence.items())
        held = f"held to {self.bound}" if self.bound else ""
        return "; ".join(part for part in (measured, held, self.load) if part)


def sentences(env: BuildEnvironment) -> dict[str, list[Sentence]]:
    """Marked sentences, by the page they stand on."""
    if not hasattr(env, "schedtutor_sentences"):
        env.schedtutor_sentences = {}  # type: ignore[attr-defined]
    found: dict[str, list[Sentence]] = env.schedtutor_sentences  # type: ignore[attr-defined]
    return found


def records(env: BuildEnvironment) -> dict[str, dict[str, Record]]:
    """Checks, by the page that ran them, then by label."""
    if not hasattr(env, "schedtutor_checks"):
        env.schedtutor_checks = {}  # type: ignore[attr-defined]
    found: dict[str, dict[str, Record]] = env.schedtutor_checks  # type: ignore[attr-defined]
    return found


def listing_pages(env: BuildEnvironment) -> set[str]:
    """The pages that hold the ``schedtutor-claims`` directive (the site has one)."""
    if not hasattr(env, "schedtutor_listing_pages"):
        env.schedtutor_listing_pages = set()  # type: ignore[attr-defined]
    found: set[str] = env.schedtutor_listing_pages  # type: ignore[attr-defined]
    return found


def listing_page(env: BuildEnvironment) -> str | None:
    """The page that lists every claim, if the site has one."""
    return min(listing_pages(env), default=None)


def checks_by_label(env: BuildEnvironment) -> dict[str, list[Record]]:
    """Every check, by label (one each on a sound site)."""
    by_label: dict[str, list[Record]] = {}
    for docname in sorted(records(env)):
        for label, record in records(env)[docname].items():
            by_label.setdefault(label, []).append(record)
    return by_label


def sentences_by_label(env: BuildEnvironment) -> dict[str, list[Sentence]]:
    """Every marked sentence, by label."""
    by_label: dict[str, list[Sentence]] = {}
    for docname in sorted(sentences(env)):
        for sentence in sentences(env)[docname]:
            by_label.setdefault(sentence.label, []).append(sentence)
    return by_label


def label_of(node: nodes.Element) -> str | None:
    """The claim a span's classes name, or None for any other node."""
    classes: list[str] = node.get("classes", [])
    for name in classes:
        if name.startswith(CLASS_PREFIX):
            return name[len(CLASS_PREFIX) :]
    return None


def read_checks(env: BuildEnvironment, docname: str) -> dict[str, Record]:
    """Return the checks a notebook page glued in this build (none for other pages)."""
    keys = getattr(env, "nb_metadata", {}).get(docname, {}).get("glue", [])
    wanted = [key for key in keys if key.startswith(GLUE_PREFIX)]
    if not wanted:
        return {}
    folder = Path(env.mystnb_config.output_folder)  # type: ignore[attr-defined]
    glued = json.loads((folder / f"{docname}.glue.json").read_text(encoding="utf-8"))
    found: dict[str, Record] = {}
    for key in wanted:
        data = json.loads(glued[key]["data"]["text/plain"])
        label = key[len(GLUE_PREFIX) :]
        if isinstance(data, dict):
            found[label] = Record(
                label,
                docname,
                str(data["status"]),
                dict(data["evidence"]),
                str(data["bound"]),
                str(data.get("load", "")),
            )
    return found


class ClaimCollector(EnvironmentCollector):
    """Collect each page's marked sentences and its checks into the environment."""

    def clear_doc(self, app: Sphinx, env: BuildEnvironment, docname: str) -> None:
        """Forget what a page said and checked before it is read again."""
        sentences(env).pop(docname, None)
        records(env).pop(docname, None)
        listing_pages(env).discard(docname)

    def merge_other(
        self,
        app: Sphinx,
        env: BuildEnvironment,
        docnames: AbstractSet[str],
        other: BuildEnvironment,
    ) -> None:
        """Take over what a parallel read process collected."""
        for docname in docnames:
            if docname in sentences(other):
                sentences(env)[docname] = sentences(other)[docname]
            if docname in records(other):
                records(env)[docname] = records(other)[docname]
        listing_pages(env).update(listing_pages(other) & set(docnames))

    def process_doc(self, app: Sphinx, doctree: nodes.document) -> None:
        """Find the page's marked sentences, give each an anchor, and read its checks."""
        env = app.env
        docname = env.docname
        found: list[Sentence] = []
        used: dict[str, int] = {}
        for node in list(doctree.findall(nodes.inline)):
            label = label_of(node)
            if label is None:
                continue
            if not LABEL.match(label):
                logger.error(
                    f"the claim label {label!r} is not lower-case words joined by hyphens",
                    location=node,
                )
                continue
            used[label] = used.get(label, 0) + 1
            anchor = f"claim-{label}" + (f"-{used[label]}" if used[label] > 1 else "")
            node["classes"] = ["claim"]
            node["ids"].append(anchor)
            node["claim"] = label
            kept = [child.deepcopy() for child in node.children]
            found.append(Sentence(label, docname, anchor, node.line, node.astext(), kept))
        if found:
            sentences(env)[docname] = found
        if any(doctree.findall(claims_list)):
            listing_pages(env).add(docname)
        checked = read_checks(env, docname)
        if checked:
            records(env)[docname] = checked


def problems(env: BuildEnvironment) -> list[tuple[str, int | None, str]]:
    """Return ``(docname, line, message)`` for every claim the build cannot stand behind."""
    checked = checks_by_label(env)
    marked = sentences_by_label(env)
    found: list[tuple[str, int | None, str]] = []
    for label, places in marked.items():
        if label not in checked:
            found += [
                (s.docname, s.line, f"the claim {label!r} has no check: add "
                 f"schedtutor.claims.check({label!r}, ...) to the hidden cell that measures it")
                for s in places
            ]  # fmt: skip
    for label, done in checked.items():
        first = done[0].docname
        if len(done) > 1:
            pages = ", ".join(record.docname for record in done)
            found.append((first, None, f"the claim {label!r} is checked on {len(done)} pages "
                          f"({pages}): check it once"))  # fmt: skip
        if label not in marked:
            mark = f"[...]{{.{CLASS_PREFIX}{label}}}"
            found.append((first, None, f"the check {label!r} backs no sentence: mark the "
                          f"sentence as {mark}, or drop the check"))  # fmt: skip
        found += [
            (record.docname, None, f"the claim {label!r} did not hold: {record.summary()}")
            for record in done
            if record.status == "failed"
        ]
        if settings.unverified_claims() == "refuse":
            found += [
                (record.docname, None, f"the claim {label!r} could not be verified: "
                 f"{record.summary()}; rebuild when the machine is idle (or, for a local "
                 f"rebuild, set {settings.UNVERIFIED}=mark)")
                for record in done
                if record.status == "unverified"
            ]  # fmt: skip
    return found


def unverified(env: BuildEnvironment) -> list[Record]:
    """The checks whose claims the machine was too busy to verify."""
    return [r for done in checks_by_label(env).values() for r in done if r.status == "unverified"]


def _where(env: BuildEnvironment, docname: str, line: int | None) -> str:
    path = Path(env.doc2path(docname))
    if path.is_relative_to(Path.cwd()):
        path = path.relative_to(Path.cwd())
    return f"{path}{f':{line}' if line else ''}"


def stop_on_problems(app: Sphinx, env: BuildEnvironment) -> None:
    """Stop the build before it writes anything when a claim is not backed, one line each.

    With ``SCHEDTUTOR_UNVERIFIED=mark``, a claim the machine was too busy to
    verify is reported in one line too, and the build goes on.
    """
    found = problems(env)
    notes = unverified(env) if settings.unverified_claims() == "mark" else []
    if notes or found:
        print(file=sys.stderr)
    for record in notes:
        print(
            f"note: {_where(env, record.docname, None)}: the claim {record.label!r} was not "
            f"verified on this build: {record.summary()}",
            file=sys.stderr,
        )
    if not found:
        return
    for docname, line, message in found:
        print(f"error: {_where(env, docname, line)}: {message}", file=sys.stderr)
    print(
        f"error: the site was not written: {len(found)} claim(s) are not backed by a check "
        "that held in this build (see above)",
        file=sys.stderr,
    )
    raise SystemExit(2)


class claims_list(nodes.General, nodes.Element):
    """Where the ``schedtutor-claims`` directive stands, until the claims are known."""


class ClaimsDirective(SphinxDirective):
    """List every claim of the site, page by page (filled in once all pages are read)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        return [claims_list("")]


class MarkClaims(SphinxPostTransform):
    """Add each claim's ✓ on its page, and fill the claims page.

    Runs before myst-nb pastes glue from other pages and before references are
    resolved (priorities 5 and 10), so the sentences copied onto the claims page
    get both.
    """

    default_priority = 1

    def run(self, **kwargs: Any) -> None:
        env = self.env
        docname = env.docname
        checked = {label: done[0] for label, done in checks_by_label(env).items()}
        page = listing_page(env)
        here = self.app.builder.get_relative_uri(docname, page) if page and docname != page else ""
        for node in list(self.document.findall(nodes.inline)):
            label = node.get("claim")
            record = checked.get(label) if label else None
            if record is None:
                continue
            mark = nodes.reference(
                "",
                SYMBOLS[record.status],
                refuri=f"{here}#check-{label}" if page else "",
                internal=True,
                reftitle=f"{TOOLTIPS[record.status]}: {record.summary()}",
                classes=["claim-mark", f"claim-{record.status}"],
            )
            node += mark
        for placeholder in list(self.document.findall(claims_list)):
            placeholder.replace_self(self.listing(checked))

    def listing(self, checked: dict[str, Record]) -> list[nodes.Node]:
        """The claims page's body: a summary line, then one section per page."""
        env = self.env
        page = env.docname
        builder = self.app.builder
        marked = sentences_by_label(env)
        pages: dict[str, list[str]] = {}  # checking page: its labels, in order
        for label in sorted(marked, key=lambda lb: _first_place(marked[lb])):
            record = checked.get(label)
            pages.setdefault(record.docname if record else marked[label][0].docname, []).append(
                label
            )
        held = sum(record.status == "passed" for record in checked.values())
        busy = sum(record.status == "unverified" for record in checked.values())
        tally = f"This build checked {len(checked)} claims on {len(pages)} pages; {held} held."
        if busy:
            tally += (
                f"  {busy} could not be verified on this build: other programs kept the "
                "machine too busy (each says how busy)."
            )
        out: list[nodes.Node] = [nodes.paragraph(text=tally)]
        for docname in sorted(pages, key=reading_order):
            title = env_title(env, docname)
            section = nodes.section(ids=[f"page-{docname.replace('/', '-')}"])
            heading = nodes.title()
            heading += nodes.reference(
                "", title, refuri=builder.get_relative_uri(page, docname), internal=True
            )
            section += heading
            items = nodes.bullet_list(classes=["claims"])
            for label in pages[docname]:
                items += self.item(page, label, marked[label], checked.get(label))
            section += items
            out.append(section)
        return out

    def item(
        self, page: str, label: str, places: list[Sentence], record: Record | None
    ) -> nodes.list_item:
        """One claim: status, its sentences (linked), evidence and bound."""
        builder = self.app.builder
        status = record.status if record else "failed"
        item = nodes.list_item(ids=[f"check-{label}"], classes=["claim-entry", f"claim-{status}"])
        for sentence in places:
            quote = nodes.paragraph(classes=["claim-sentence"])
            quote += nodes.inline("", SYMBOLS[status], classes=["claim-status"])
            quote += nodes.Text(" ")
            for child in sentence.content:
                copied = child.deepcopy()
                for ref in copied.findall(addnodes.pending_xref):
                    _move_reference(ref, sentence.docname, page)
                quote += copied
            uri = builder.get_relative_uri(page, sentence.docname) + f"#{sentence.anchor}"
            elsewhere = record is not None and sentence.docname != record.docname
            where = f"(on {env_title(self.env, sentence.docname)})" if elsewhere else "(in context)"
            quote += nodes.Text(" ")
            quote += nodes.reference("", where, refuri=uri, internal=True,
                                     classes=["claim-context"])  # fmt: skip
            item += quote
        evidence = nodes.paragraph(classes=["claim-evidence"])
        if record is None:
            evidence += nodes.Text("not checked")
        else:
            evidence += nodes.strong(text=f"{WORDS[record.status]}: ")
            evidence += nodes.Text(record.summary() or "checked")
            evidence += nodes.Text(" (check ")
            evidence += nodes.literal(text=label)
            evidence += nodes.Text(")")
        item += evidence
        return item


SECTIONS = ("index", "tutorials", "how-to", "explanation", "reference")


def _move_reference(ref: addnodes.pending_xref, home: str, page: str) -> None:
    """Make a reference copied from ``home`` onto ``page`` point where it pointed there.

    A ``{doc}`` target is relative to the page it stands on: make it absolute
    first.  Every reference then resolves as if it stood on ``page``, so its
    link is right from there.
    """
    target = str(ref.get("reftarget", ""))
    if ref.get("reftype") == "doc" and not target.startswith("/"):
        ref["reftarget"] = "/" + docname_join(home, target)
    ref["refdoc"] = page


def reading_order(docname: str) -> tuple[int, str]:
    """Sort pages as the site reads: front page, tutorials, how-to, explanation, reference."""
    top = docname.split("/")[0]
    return (SECTIONS.index(top) if top in SECTIONS else len(SECTIONS), docname)


def _first_place(places: list[Sentence]) -> tuple[tuple[int, str], int]:
    first = min(places, key=lambda s: (reading_order(s.docname), s.line or 0))
    return reading_order(first.docname), first.line or 0


def env_title(env: BuildEnvironment, docname: str) -> str:
    """A page's title as text."""
    return env.titles[docname].astext() if docname in env.titles else docname


def always_write_claims_page(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """The claims page lists every page's claims: read it again whenever another page is.

    A page's claims only change when the page is read again (its notebook run
    or taken from the cache), so a rebuild in which no other page was added,
    changed or removed leaves the list as it was, and writes nothing.
    """
    listing = listing_pages(env) & env.found_docs
    if not (added | changed | removed) - listing:
        return []
    return sorted(listing)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the collector, the checks, the marks and the claims page."""
    app.add_env_collector(ClaimCollector)
    app.add_node(claims_list)
    app.add_directive("schedtutor-claims", ClaimsDirective)
    app.add_post_transform(MarkClaims)
    app.connect("env-check-consistency", stop_on_problems)
    app.connect("env-get-outdated", always_write_claims_page)
    app.add_css_file("claims.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
