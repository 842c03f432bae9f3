"""The documentation site: it builds with ``mkdocs build --strict`` (no warning, no dead link), its generated
pages say what the code says, and it renders in real Chromium with a search that finds things."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_the_site_builds_strict_with_generated_pages(site):
    import typer

    from fute.cli import app

    cli = (site / "cli" / "index.html").read_text()
    root = typer.main.get_command(app)
    for name, cmd in root.commands.items():  # every command of the app is on the page, none from memory
        assert f"fute {name}" in cli
        for sub in getattr(cmd, "commands", {}):
            assert f"fute {name} {sub}" in cli
    assert "--overwrite" in cli and "--column" in cli
    results = (site / "results" / "index.html").read_text()
    assert "transfer_truth3/transfer_eval/" in results and (site / "results" / "prompts_eval" / "index.html").is_file()
    api = (site / "api" / "index.html").read_text()
    assert "embed_dataset" in api and "The model task embedding" in api  # from the docstrings


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.slow
def test_the_site_renders_and_its_search_finds_pages(served):
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(served + "/")
        nav = page.locator("nav.md-nav--primary a.md-nav__link").evaluate_all("els => els.map(e => e.href)")
        pages = sorted({h.split("#")[0] for h in nav if h.startswith(served)})
        assert len(pages) >= 15
        for url in pages:
            page.goto(url)
            assert page.locator("article h1").count() == 1, url
        page.goto(served + "/")
        page.locator("input.md-search__input").fill("overwrite")
        page.wait_for_selector("li.md-search-result__item", timeout=15000)
        found = page.locator("li.md-search-result__item a").evaluate_all("els => els.map(e => e.href)")
        browser.close()
    assert errors == []
    assert any("/store/" in h for h in found), found
