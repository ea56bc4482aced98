"""Checked claims: the mechanism (docs/_ext/claims.py, schedtutor.claims) and the built site.

The unit tests build throwaway sites with the repository's conf.py
(:func:`tests.conftest.build_pages`); the tests marked ``docs`` read the site
the session builds once (``built_site``): every claim listed and held, every
sentence of timing or comparison glued or claimed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from schedtutor.claims import Check, check
from tests.conftest import build_pages, notebook_page, sphinx_build
from tests.test_load import busy_loop

if TYPE_CHECKING:
    from bs4 import Tag

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: Words that make a sentence a statement about timings or a comparison.
TRIGGERS = re.compile(
    r"\b(?:faster|slower|as long as|side by side|dominates?|took|takes|at once|"
    r"at the same time|one after the other|in parallel|twice|half|longer|shorter|"
    r"cheaper|costlier|quicker|speed-up|speeds? up|overhead|beats?|wins?|"
    r"no gain|no faster|as fast as|times as)\b|\u00d7",
    re.I,
)

#: Pages that report rather than teach: generated from the code or from this build.
GENERATED = {"reference/api", "reference/cli", "reference/claims", "reference/execution"}

#: Sentence ends: a full stop, question or exclamation mark, then space and a capital.
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z(*`\"'0-9])")


@dataclass(frozen=True)
class Run:
    """A piece of a paragraph's text, and whether it is claimed or glued."""

    text: str
    claimed: bool
    glued: bool


def _runs(node: Tag, claimed: bool = False, glued: bool = False) -> list[Run]:
    from bs4 import NavigableString, Tag  # a docs extra: the library's floors run lacks it

    runs: list[Run] = []
    for child in node.children:
        if isinstance(child, NavigableString):
            runs.append(Run(str(child), claimed, glued))
        elif isinstance(child, Tag):
            classes = child.get("class") or []
            if "claim-mark" in classes:
                continue
            runs += _runs(
                child,
                claimed or "claim" in classes,
                glued or "pasted-text" in classes or "pasted-inline" in classes,
            )
    return runs


def unbacked_sentences(html: str) -> list[str]:
    """Return each prose sentence of a page that states a timing or comparison unbacked.

    Prose is the article's paragraphs and list items, answers in dropdowns
    included; code, cell outputs (measured tables) and headings are not prose.
    A sentence is backed when any of it is claimed (a ``span.claim``) or glued.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    article = soup.find("article") or soup
    for skip in article.select("div.cell_output, div.output, pre, div.highlight, table"):
        skip.decompose()
    found: list[str] = []
    for paragraph in article.find_all("p"):
        runs = _runs(paragraph)
        text = "".join(r.text for r in runs)
        flags: list[bool] = []
        for run in runs:
            flags += [run.claimed or run.glued] * len(run.text)
        start = 0
        for end in [m.start() for m in SENTENCE_END.finditer(text)] + [len(text)]:
            sentence = " ".join(text[start:end].split())
            if sentence and TRIGGERS.search(sentence) and not any(flags[start:end]):
                found.append(sentence)
            start = end
    return found


@pytest.mark.docs
class TestUnbackedSentences:
    def test_finds_an_unbacked_comparison(self) -> None:
        """A sentence saying one run was faster, neither glued nor claimed, is reported."""
        html = "<article><p>Threads were faster. Nothing else happened here.</p></article>"
        assert unbacked_sentences(html) == ["Threads were faster."]

    def test_a_claimed_or_glued_sentence_is_backed(self) -> None:
        """A claim span or a glued value anywhere in the sentence backs it."""
        html = (
            '<article><p><span class="claim">Threads were faster.</span> It took '
            '<span class="pasted-text">4.01</span> s. Sync was slower too.</p></article>'
        )
        assert unbacked_sentences(html) == ["Sync was slower too."]

    def test_code_and_outputs_are_not_prose(self) -> None:
        """Words in code blocks and cell outputs are not sentences of the page."""
        html = (
            "<article><pre>faster = 1</pre><div class='cell_output'><p>took 4 s</p></div>"
            "<p>Nothing to see.</p></article>"
        )
        assert unbacked_sentences(html) == []


class TestCheck:
    def test_a_failed_check_says_what_it_was_held_to(self) -> None:
        """A check that does not hold has status failed, and its summary names the bound."""
        result = check("sync-is-four", False, {"sync, s": 3.1234}, "within 0.5 s of 4")
        expected = Check("sync-is-four", "failed", {"sync, s": "3.12"}, "within 0.5 s of 4")
        assert result == replace(expected, load=result.load)
        assert result.summary() == f"sync, s 3.12; held to within 0.5 s of 4; {result.load}"

    def test_a_check_records_the_load_since_the_previous_one(self) -> None:
        """Without a load given, a check names the others' load since the previous check."""
        check("before-the-loop", True)
        with busy_loop(ours=False):
            time.sleep(1.0)
            during = check("beside-a-loop", True)
        same_cell = check("right-after", True)
        assert during.load.startswith("other programs kept"), during.load
        assert float(during.load.split()[3]) >= 0.5, during.load
        assert same_cell.load == during.load  # checks at once share their stretch's load

    @pytest.mark.parametrize("label", ["", "Upper", "two words", "trailing-", 3])
    def test_a_bad_label_is_refused(self, label: object) -> None:
        """A label that is not lower-case words joined by hyphens is a ValueError."""
        with pytest.raises(ValueError, match="lower-case words joined by hyphens"):
            check(label, True)  # type: ignore[arg-type]


CLAIMS_PAGE = (DOCS / "reference" / "claims.md").read_text(encoding="utf-8")

CHECKS = """\
from schedtutor.claims import check
check("four", 4.02 > 3.5, {"x, s": 4.02}, "> 3.5")
check("dask-default", True, {"scheduler": "threads"})
"""

MEASURED = notebook_page(CHECKS, title="Measured").replace(
    "```{code-cell} python\n", "```{code-cell} python\n:tags: [remove-cell]\n", 1
) + (
    "\n[It took about four delays.]{.claim:four}  Nothing else.\n\n"
    "- [Dask runs a `Delayed` on threads.]{.claim:dask-default}\n"
    "- Again: [about four]{.claim:four}.\n"
)
EXPLAINED = "# Explained\n\n[The other page measured four.]{.claim:four}\n"


#: How a check names the load it was measured under (schedtutor.load.Load in words).
LOAD = r"(no other load on \d+ CPUs|other programs kept \d+\.\d of \d+ CPUs busy)"


@pytest.mark.docs
class TestTheBuild:
    """A throwaway site with the repository's configuration: marks, page, and refusals."""

    def test_claims_are_marked_and_listed(self, tmp_path: Path) -> None:
        """Each claimed sentence gets a ✓ with its evidence; the claims page lists them."""
        done = build_pages(
            tmp_path,
            {"measured": MEASURED, "explained": EXPLAINED, "claims": CLAIMS_PAGE},
            strict=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        measured = (tmp_path / "html" / "measured.html").read_text(encoding="utf-8")
        marks = re.findall(r'<a class="claim-mark[^"]*"[^>]*title="([^"]*)"[^>]*>✓</a>', measured)
        expected = [
            "Checked by this build: x, s 4.02; held to &gt; 3.5",
            "Checked by this build: scheduler threads",
            "Checked by this build: x, s 4.02; held to &gt; 3.5",
        ]
        assert len(marks) == len(expected)
        for mark, start in zip(marks, expected, strict=True):
            assert re.fullmatch(re.escape(start) + "; " + LOAD, mark), mark
        assert 'id="claim-four"' in measured and 'id="claim-four-2"' in measured
        listing = (tmp_path / "html" / "claims.html").read_text(encoding="utf-8")
        assert "This build checked 2 claims on 1 pages; 2 held." in listing
        assert 'id="check-four"' in listing and 'href="explained.html#claim-four"' in listing
        assert "(on Explained)" in listing

    def test_the_claims_page_is_read_again_only_when_another_page_is(self, tmp_path: Path) -> None:
        """A rebuild with nothing changed reads and writes no page; a changed page, the list too."""
        pages = {"measured": MEASURED, "explained": EXPLAINED, "claims": CLAIMS_PAGE}
        assert build_pages(tmp_path, pages, strict=False).returncode == 0

        def rebuild() -> str:
            done = sphinx_build(tmp_path, strict=False)
            assert done.returncode == 0, done.stderr[-3000:]
            return done.stdout

        unchanged = rebuild()
        assert "0 added, 0 changed, 0 removed" in unchanged, unchanged
        assert "writing output... [" not in unchanged, unchanged
        explained = tmp_path / "source" / "explained.md"
        explained.write_text(EXPLAINED.replace("# Explained", "# Explained again"))
        changed = rebuild()
        assert "0 added, 2 changed, 0 removed" in changed, changed  # it and the claims page
        listing = (tmp_path / "html" / "claims.html").read_text(encoding="utf-8")
        assert "(on Explained again)" in listing

    def test_a_relative_link_in_a_claim_still_points_home_on_the_claims_page(
        self, tmp_path: Path
    ) -> None:
        """A {doc} link inside a claimed sentence leads to the same page from the claims page."""
        linked = MEASURED.replace("Nothing else.", "").replace(
            "[It took about four delays.]", "[It took about four delays, as {doc}`other` says.]"
        )
        done = build_pages(
            tmp_path,
            {
                "tutorials/measured": linked,
                "tutorials/other": "# Other\n",
                "reference/claims": CLAIMS_PAGE,
            },
            strict=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        listing = (tmp_path / "html" / "reference" / "claims.html").read_text(encoding="utf-8")
        assert 'href="../tutorials/other.html"' in listing
        page = (tmp_path / "html" / "tutorials" / "measured.html").read_text(encoding="utf-8")
        assert 'href="other.html"' in page

    def test_unbacked_claims_stop_the_build_one_line_each(self, tmp_path: Path) -> None:
        """A failed check, a claim with no check and a check with no claim: nothing written."""
        failing = MEASURED.replace("4.02 > 3.5", "4.02 > 5") + "\n[Unchecked.]{.claim:nobody}\n"
        failing = failing.replace(
            'check("dask-default"', 'check("orphan", True)\ncheck("dask-default"'
        )
        done = build_pages(tmp_path, {"measured": failing, "claims": CLAIMS_PAGE}, strict=False)
        assert done.returncode == 2
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        line = failing.splitlines().index("[Unchecked.]{.claim:nobody}") + 1
        assert len(errors) == 4, errors
        assert errors[0] == (
            f"error: source/measured.md:{line}: the claim 'nobody' has no check: add "
            "schedtutor.claims.check('nobody', ...) to the hidden cell that measures it"
        )
        did_not_hold = "error: source/measured.md: the claim 'four' did not hold: x, s 4.02; "
        assert re.fullmatch(re.escape(did_not_hold + "held to > 3.5; ") + LOAD, errors[1])
        assert errors[2:] == [
            "error: source/measured.md: the check 'orphan' backs no sentence: mark the sentence "
            "as [...]{.claim:orphan}, or drop the check",
            "error: the site was not written: 3 claim(s) are not backed by a check that held "
            "in this build (see above)",
        ]
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "html" / "measured.html").exists()


#: Every page under docs/ a reader reads for its prose.
PROSE_PAGES = sorted(
    name
    for name in (p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.md"))
    if not name.startswith("_") and name not in GENERATED
)


BUSY = """\
from schedtutor.claims import check
from schedtutor.load import Load
busy = Load(others=1.9, cpus=2, seconds=3.0)
check("numpy-faster", False, {"speed-up": 1.1}, "> 1.5", load=busy, needs_free_cpus=2)
"""

UNVERIFIABLE = (
    notebook_page(BUSY, title="Busy").replace(
        "```{code-cell} python\n", "```{code-cell} python\n:tags: [remove-cell]\n", 1
    )
    + "\n[NumPy in two threads ran faster.]{.claim:numpy-faster}\n"
)


@pytest.mark.docs
class TestABusyMachine:
    """A claim the machine was too busy to verify: refused, or marked on a local rebuild."""

    def test_refused_by_default_in_one_line(self, tmp_path: Path) -> None:
        """By default the build stops on it, naming the claim and the load."""
        done = build_pages(
            tmp_path,
            {"busy": UNVERIFIABLE, "claims": CLAIMS_PAGE},
            {"SCHEDTUTOR_UNVERIFIED": ""},
            strict=False,
        )
        assert done.returncode == 2
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert errors[0] == (
            "error: source/busy.md: the claim 'numpy-faster' could not be verified: speed-up "
            "1.1; held to > 1.5; other programs kept 1.9 of 2 CPUs busy (the claim needs 2 "
            "free); rebuild when the machine is idle (or, for a local rebuild, set "
            "SCHEDTUTOR_UNVERIFIED=mark)"
        )
        assert len(errors) == 2 and "Traceback" not in done.stderr

    def test_marked_on_a_local_rebuild(self, tmp_path: Path) -> None:
        """With SCHEDTUTOR_UNVERIFIED=mark the build says so in one line and marks the page."""
        done = build_pages(
            tmp_path,
            {"busy": UNVERIFIABLE, "claims": CLAIMS_PAGE},
            {"SCHEDTUTOR_UNVERIFIED": "mark"},
            strict=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
        assert notes == [
            "note: source/busy.md: the claim 'numpy-faster' was not verified on this build: "
            "speed-up 1.1; held to > 1.5; other programs kept 1.9 of 2 CPUs busy (the claim "
            "needs 2 free)"
        ]
        busy = (tmp_path / "html" / "busy.html").read_text(encoding="utf-8")
        assert re.search(
            r'<a class="claim-mark claim-unverified[^"]*"[^>]*title="Not verified on this '
            r'build \(the machine was busy\): [^"]*1\.9 of 2 CPUs[^"]*"[^>]*>\?</a>',
            busy,
        ), busy[busy.find("<article") : busy.find("</article>")]
        listing = (tmp_path / "html" / "claims.html").read_text(encoding="utf-8")
        assert "1 could not be verified on this build" in listing
        assert 'class="claim-entry claim-unverified"' in listing


def content_pages(site: Path) -> list[Path]:
    """Every page of the site a reader reads for its prose."""
    pages = []
    for path in sorted(site.rglob("*.html")):
        name = path.relative_to(site).with_suffix("").as_posix()
        if name.startswith(("_", "genindex", "search", "py-modindex")) or name in GENERATED:
            continue
        pages.append(path)
    return pages


@pytest.mark.docs
class TestBuiltSite:
    """Every claim of the built site held, and no sentence of timing or comparison is bare."""

    def test_the_claims_page_lists_every_claim_as_held(self, built_site: Path) -> None:
        """The claims page lists well over 60 claims, none failed: each held, or was marked.

        The session's build is a local rebuild (``SCHEDTUTOR_UNVERIFIED=mark``):
        a claim that needs free CPUs another program kept busy is marked not
        verified, and its entry names the load that stopped it.
        """
        text = (built_site / "reference" / "claims.html").read_text(encoding="utf-8")
        summary = re.search(r"This build checked (\d+) claims on (\d+) pages; (\d+) held\.", text)
        assert summary, "no summary on the claims page"
        claims, pages, held = map(int, summary.groups())
        busy = re.search(r"(\d+) could not be verified on this build", text)
        unverified = int(busy.group(1)) if busy else 0
        assert claims >= 60 and held + unverified == claims and pages >= 6, summary.group(0)
        assert text.count('class="claim-entry claim-passed"') == held
        assert "claim-failed" not in text
        entries = re.findall(r'class="claim-entry claim-unverified".*?</li>', text, re.DOTALL)
        assert len(entries) == unverified
        for entry in entries:
            assert re.search(r"other programs kept \d\.\d of \d+ CPUs busy", entry), entry

    def test_every_mark_links_to_its_entry(self, built_site: Path) -> None:
        """Every ✓ on a page links to an entry of the claims page that exists."""
        listing = (built_site / "reference" / "claims.html").read_text(encoding="utf-8")
        entries = set(re.findall(r'id="(check-[a-z0-9-]+)"', listing))
        marks = 0
        for path in content_pages(built_site):
            for target in re.findall(
                r'<a class="claim-mark[^"]*" href="([^"]+)"', path.read_text(encoding="utf-8")
            ):
                assert target.split("#")[1] in entries, (path.name, target)
                marks += 1
        assert marks >= 60

    @pytest.mark.parametrize("name", PROSE_PAGES)
    def test_no_bare_sentence_of_timing_or_comparison(self, built_site: Path, name: str) -> None:
        """Every sentence with a word of timing or comparison is glued or a checked claim."""
        html = (built_site / f"{name}.html").read_text(encoding="utf-8")
        assert unbacked_sentences(html) == []
