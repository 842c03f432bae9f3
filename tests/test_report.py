from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fute.report import write_report
from fute.store import LocalStore
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip
from tests.test_viz import full_vec, some_vectors


def filled_store(path: Path) -> LocalStore:
    st = LocalStore(path)
    for v in some_vectors(12) + some_vectors(5, space="s2") + [full_vec("n1", [3.0], space="s3", method="datasize")]:
        st.put(v)
    return st


def bench_results(folder: Path) -> Path:
    folder.mkdir()
    table = "| method | rho |\n|---|---:|\n| fisher | 1.5 |\n"
    (folder / "transfer.md").write_text(f"# Transfer\n\n{table}\n![plot](plot.png)\n")
    _png(folder / "plot.png")
    return folder


def _png(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    fig.savefig(path)
    plt.close(fig)
    return path


def test_report_has_maps_neighbours_and_results(tmp_path):
    st = filled_store(tmp_path / "store")
    page = write_report(
        tmp_path / "rep", st, projection="pca", results=bench_results(tmp_path / "res"), k=3, progress=False
    )
    text = page.read_text()
    assert page == tmp_path / "rep" / "index.html"
    assert text.count("class='map'") == 2 and "data-points='12'" in text and "data-points='5'" in text
    assert "1-d vectors: no map." in text  # the datasize space is listed, not drawn
    assert (tmp_path / "rep" / "map-s1.png").is_file() and (tmp_path / "rep" / "map-s2.png").is_file()
    assert "<td>fisher</td>" in text and 'src="results/plot.png"' in text
    assert (tmp_path / "rep" / "results" / "plot.png").is_file()
    assert "<script src=" not in text  # opens from disk with no network
    one = write_report(tmp_path / "rep1", st, space="s2", projection="pca", progress=False).read_text()
    assert one.count("class='map'") == 1 and "Benchmark results" not in one


def test_report_command(tmp_path, run_cli):
    filled_store(tmp_path / "store")
    code, out, err = run_cli(
        "report",
        "--store",
        str(tmp_path / "store"),
        "--out",
        str(tmp_path / "r"),
        "--projection",
        "pca",
        "--results",
        str(tmp_path / "missing"),
        "--quiet",
    )
    assert code == 2 and "not a folder of benchmark results" in err and "Traceback" not in err
    code, out, err = run_cli(
        "report", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "r"), "--projection", "pca", "--quiet"
    )
    assert code == 0 and "index.html" in out and (tmp_path / "r" / "index.html").is_file(), err


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    """Open the report from disk in real Chromium: no console errors, one drawn point per stored vector."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    st = filled_store(tmp_path / "store")
    page_path = write_report(
        tmp_path / "rep", st, projection="tsne", results=bench_results(tmp_path / "res"), progress=False
    )
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        page.wait_for_selector(".map .scatterlayer path.point")
        drawn = {
            m.get_attribute("data-space"): m.locator(".scatterlayer path.point").count()
            for m in page.locator("div.map").all()
        }
        broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert errors == []
    assert drawn == {sid: len(st.vectors(sid)) for sid in ("s1", "s2")}
    assert broken == 0 and shot.stat().st_size > 20_000
    if os.environ.get("FUTE_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["FUTE_SCREENSHOT_DIR"]) / "report-screenshot.png")


def test_html_map_in_chromium_labels_points_and_keeps_the_legend_inside(tmp_path):
    """The layout boxes of a drawn map: every point named on the page, the legend and the plot inside the
    figure, and the figure filling the window rather than a fixed strip at the top."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    from fute.viz import build_map, write_map

    vectors = some_vectors(12)
    _, html_path = write_map(build_map(vectors, projection="pca"), tmp_path / "m")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(html_path.as_uri())
        page.wait_for_selector(".scatterlayer path.point")
        names = page.evaluate("[...document.querySelectorAll('.scatterlayer .textpoint text')].map(t => t.textContent)")
        box = page.evaluate(
            """() => {
                const r = e => { const b = document.querySelector(e).getBoundingClientRect();
                                 return [b.left, b.top, b.right, b.bottom]; };
                return {svg: r('svg.main-svg'), legend: r('g.legend'), plot: r('g.cartesianlayer')};
            }"""
        )
        page.screenshot(path=str(tmp_path / "map.png"))
        page.locator("text=names off").click()
        hidden = page.evaluate("document.querySelectorAll('.scatterlayer .textpoint text').length")
        browser.close()
    assert sorted(names) == sorted(v.name for v in vectors) and hidden == 0
    svg, legend = box["svg"], box["legend"]
    assert svg[0] <= legend[0] and legend[2] <= svg[2] + 1 and svg[1] <= legend[1] and legend[3] <= svg[3] + 1
    assert svg[3] - svg[1] > 0.8 * 900  # the figure fills the window's height
    if os.environ.get("FUTE_SCREENSHOT_DIR"):
        shutil.copy(tmp_path / "map.png", Path(os.environ["FUTE_SCREENSHOT_DIR"]) / "map-screenshot.png")
