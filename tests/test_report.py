"""``readout report``: one self-contained HTML file, opened in headless Chromium from disk.

The report of the shipped example archive must draw its charts, list the readouts, show a readout
with its sentences coloured by label and evidence words marked, filter by area, open another
readout on a click, fit a phone-width screen, and ask the network for nothing.
"""

import re

import pytest

from browser import DevTools
from helpers import ROOT, run_cli

ARCHIVE = ROOT / "data" / "examples" / "archive"
READY = "document.body && document.body.dataset.ready === '1'"


def _report(trained, out, *inputs, args=()):
    result = run_cli("report", *(str(i) for i in inputs), "--out", str(out), "--tracking-uri", trained["uri"],
                     *args, cwd=trained["folder"])
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


@pytest.fixture(scope="module")
def archive_report(trained, tmp_path_factory):
    """The report of the shipped example archive, built once for the tests that read it."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    return out, _report(trained, out, ARCHIVE)


def _open(browser: DevTools, path):
    browser.call("Page.enable")
    browser.call("Page.navigate", url=path.resolve().as_uri())
    browser.wait_for(READY, "the report")


def test_the_report_file_is_self_contained(archive_report):
    out, printed = archive_report
    html = out.read_text(encoding="utf-8")
    readouts = len(list(ARCHIVE.glob("*.txt")))
    assert f"{readouts} readouts" in printed
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the report links outside itself"
    assert "models:/readout-tagger@champion" in html and '"version":1' in html  # traceable to the model


@pytest.mark.slow
def test_the_report_reads_well_in_a_browser_and_on_a_phone(archive_report, chromium):
    out, _ = archive_report
    readouts = len(list(ARCHIVE.glob("*.txt")))
    with DevTools(chromium) as browser:
        _open(browser, out)
        assert browser.evaluate("document.querySelectorAll('#chart-areas rect').length") == 4
        assert browser.evaluate("document.querySelectorAll('#chart-time polyline').length") == 4  # dates: over time
        assert browser.evaluate("document.querySelectorAll('#chart-countries tbody tr').length") > 5
        assert browser.evaluate("document.querySelectorAll('#rows tr').length") == min(readouts, 25)
        assert "thresholds trade ≥" in browser.evaluate("document.getElementById('model').innerText")
        # The first readout is open: labelled sentences coloured, evidence marked, the rest dimmed.
        assert browser.evaluate("document.querySelectorAll('#reader .s.on').length") > 0
        assert browser.evaluate("document.querySelectorAll('#reader .s.on mark').length") > 0
        assert browser.evaluate("document.querySelectorAll('#reader .s.none mark').length") == 0
        assert "trade" in browser.evaluate("document.querySelector('#reader .s').title")  # scores on hover

        # Filter by area: every readout left has a defence sentence; clearing brings all back.
        browser.evaluate("(() => { const a = document.getElementById('area'); a.value = 'defence';"
                         " a.dispatchEvent(new Event('input')); })()")
        rows = browser.evaluate("[...document.querySelectorAll('#rows tr')].map(tr => tr.innerText)")
        assert 0 < len(rows) < readouts and all("defence" in row for row in rows)
        # A click on another row opens that readout.
        second = browser.evaluate("document.querySelectorAll('#rows tr')[1].children[1].innerText")
        browser.evaluate("document.querySelectorAll('#rows tr')[1].click()")
        assert browser.evaluate("document.querySelector('#reader h2').innerText") == second

        browser.viewport(390, 844, mobile=True)
        _open(browser, out)
        assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert all(url.startswith(("file:", "data:", "about:")) for url in browser.requested), browser.requested


@pytest.mark.slow
def test_a_report_without_metadata_still_works(trained, tmp_path, chromium):
    readout = tmp_path / "plain.txt"
    readout.write_text("The ministers agreed to cut tariffs on steel. Their navies will train together.\n",
                       encoding="utf-8")
    out = tmp_path / "plain.html"
    _report(trained, out, readout)
    with DevTools(chromium) as browser:
        _open(browser, out)
        assert "No dates" in browser.evaluate("document.getElementById('chart-time').innerText")
        assert browser.evaluate("document.querySelectorAll('#reader .s').length") == 2
