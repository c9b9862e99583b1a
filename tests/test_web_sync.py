"""Guidance synced from the web, against a real HTTP server on 127.0.0.1 with the real model and Chroma:
conditional requests, robots.txt, redirects, sitemaps, pruning, size and type limits, the command, the
schedule, and the fetched date on an answer."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import child_env, make_settings
from fastapi.testclient import TestClient
from fixtures_docs import VOCAB
from fpdf import FPDF
from web_server import Site

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.service import AnswerService
from assistant.store import open_store
from assistant.types import IngestReport
from bots.api import create_app
from ingest.cli import main as cli_main
from ingest.fetch import Fetched
from ingest.indexer import Indexer
from ingest.web import WebSource, WebSync, detect, load_fetched, load_sources, sync_urls

REPORT_KEYS = {
    "added",
    "updated",
    "skipped",
    "deleted",
    "failed",
    "documents",
    "chunks",
    "not_modified",
    "repaired",
}
ROBOTS = "User-agent: *\nDisallow: /private/\n"


def sentences(seed: int, n: int = 6) -> list[str]:
    rng = random.Random(seed)
    return [
        f"Point {seed}.{i} covers the " + " ".join(rng.choice(VOCAB) for _ in range(12)) + "."
        for i in range(n)
    ]


def html_page(title: str, paragraphs: list[str], published: str | None = None) -> str:
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>{meta}</head>'
        f'<body><header><nav><a href="/">Home</a> <a href="/guide/">Guidance</a></nav></header>'
        f"<main><article><h1>{title}</h1>{body}</article></main>"
        f"<footer><p>Copyright NHS example site</p></footer></body></html>"
    )


def pdf_bytes(title: str, lines: list[str], created: datetime) -> bytes:
    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_creation_date(created)
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    for line in lines:
        pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def sitemap(urls: list[str]) -> str:
    entries = "".join(f"<url><loc>{u}</loc><lastmod>2024-04-01</lastmod></url>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    )


def settings_for(data: Path, **overrides: object) -> Settings:
    return make_settings(data, sync__host_delay_s=0.0, **overrides)


def indexer_for(settings: Settings, embedder: Embedder) -> Indexer:
    return Indexer(settings, open_store(settings, embedder))


def chunk_ids(indexer: Indexer) -> dict[str, set[str]]:
    stored = indexer.store.all_chunks()
    out: dict[str, set[str]] = defaultdict(set)
    for chunk_id, meta in zip(stored.ids, stored.metadatas, strict=True):
        out[str(meta["source"])].add(chunk_id)
    return dict(out)


def metadata_of(indexer: Indexer, source: str) -> dict[str, object]:
    stored = indexer.store.all_chunks()
    return next(m for m in stored.metadatas if m["source"] == source)


def tally(report: IngestReport) -> dict[str, int]:
    return {
        "added": report.added,
        "updated": report.updated,
        "skipped": report.skipped,
        "not_modified": report.not_modified,
        "deleted": report.deleted,
    }


def errors(report: IngestReport) -> dict[str, str]:
    return {f.source: f.error for f in report.failed}


@pytest.fixture
def site() -> Site:
    with Site() as running:
        running.put("/robots.txt", ROBOTS, "text/plain")
        yield running


def build_site(site: Site) -> list[WebSource]:
    site.put("/guide/arrs.html", html_page("ARRS claims", sentences(1), published="2024-04-01"))
    site.put("/guide/leave.html", html_page("Annual leave", sentences(2)))
    site.put("/guide/rota.html", html_page("Reception rota", sentences(3)))
    site.put("/guide/gone.html", html_page("Old guidance", sentences(4)))
    site.put("/private/secret.html", html_page("Secret", sentences(5)))
    site.put(
        "/docs/des.pdf",
        pdf_bytes("Network DES", sentences(6), datetime(2023, 5, 2, tzinfo=UTC)),
        "application/octet-stream",  # mislabelled, as servers do: the %PDF magic decides
    )
    site.put(
        "/sitemap.xml",
        sitemap([site.url("/guide/rota.html"), site.url("/private/secret.html")]),
        "application/xml",
    )
    site.redirect("/old/arrs", site.url("/guide/arrs.html"))
    return [
        WebSource(url=site.url("/guide/arrs.html"), kind="page", topic="pcn", publisher="NHS England"),
        WebSource(url=site.url("/guide/leave.html"), topic="workforce", publisher="BMA"),
        WebSource(url=site.url("/docs/des.pdf"), kind="pdf", topic="pcn", publisher="NHS England"),
        WebSource(url=site.url("/sitemap.xml"), kind="sitemap", topic="operations", publisher="IGPM"),
        WebSource(url=site.url("/old/arrs"), topic="pcn", publisher="NHS England"),
        WebSource(url=site.url("/guide/gone.html"), topic="operations", publisher="IGPM"),
    ]


# ------------------------------------------------------------------------------ the sync lifecycle


def test_sync_lifecycle_conditional_requests_robots_redirects_and_pruning(
    site: Site, tmp_path: Path, embedder: Embedder
) -> None:
    sources = build_site(site)
    settings = settings_for(tmp_path / "data")
    pages = {p: site.url(p) for p in ("/guide/arrs.html", "/guide/leave.html", "/guide/rota.html")}
    pdf, gone = site.url("/docs/des.pdf"), site.url("/guide/gone.html")

    # 1. First sync ingests every page, the PDF and the sitemap's pages; a redirect keeps one source.
    first = sync_urls(settings, indexer_for(settings, embedder), sources)
    assert tally(first) == {"added": 5, "updated": 0, "skipped": 1, "not_modified": 0, "deleted": 0}
    assert errors(first) == {
        site.url("/private/secret.html"): "robots-disallowed: robots.txt does not allow this URL"
    }
    assert "/private/secret.html" not in site.paths()
    assert site.paths().count("/robots.txt") == 1  # read once per host per run
    indexer = indexer_for(settings, embedder)
    before = chunk_ids(indexer)
    assert set(before) == {*pages.values(), pdf, gone}  # never the redirecting URL
    arrs = metadata_of(indexer, pages["/guide/arrs.html"])
    assert (arrs["url"], arrs["topic"], arrs["publisher"]) == (
        pages["/guide/arrs.html"],
        "pcn",
        "NHS England",
    )
    assert arrs["published"] == "2024-04-01"
    assert datetime.fromisoformat(str(arrs["fetched_at"])).date() == datetime.now(UTC).date()
    des = metadata_of(indexer, pdf)
    assert (des["published"], des["title"], des["page"]) == ("2023-05-02", "Network DES", 1)
    assert metadata_of(indexer, pages["/guide/rota.html"])["publisher"] == "IGPM"  # from its sitemap

    # 2. Nothing changed: every page costs one conditional request answered 304; nothing is embedded.
    site.clear_log()
    second = sync_urls(settings, indexer_for(settings, embedder), sources)
    assert tally(second) == {"added": 0, "updated": 0, "skipped": 0, "not_modified": 6, "deleted": 0}
    page_hits = [h for h in site.log if h.path not in ("/robots.txt", "/sitemap.xml", "/old/arrs")]
    assert page_hits
    assert all(h.status == 304 and h.if_none_match for h in page_hits)
    assert chunk_ids(indexer) == before

    # 3. One page changes and one vanishes: only the changed page is re-indexed; the missing one is kept.
    site.put("/guide/leave.html", html_page("Annual leave", sentences(22)))
    site.gone("/guide/gone.html")
    third = sync_urls(settings, indexer_for(settings, embedder), sources)
    assert tally(third) == {"added": 0, "updated": 1, "skipped": 0, "not_modified": 4, "deleted": 0}
    assert errors(third)[gone].startswith("HTTP 404: kept for now")
    after = chunk_ids(indexer)
    assert after[pages["/guide/leave.html"]].isdisjoint(before[pages["/guide/leave.html"]])
    assert {s: ids for s, ids in after.items() if s != pages["/guide/leave.html"]} == {
        s: ids for s, ids in before.items() if s != pages["/guide/leave.html"]
    }

    # 4. Missing on a second sync in a row: pruned from the index.
    fourth = sync_urls(settings, indexer_for(settings, embedder), sources)
    assert tally(fourth) == {"added": 0, "updated": 0, "skipped": 0, "not_modified": 5, "deleted": 1}
    assert "removed from the index" in errors(fourth)[gone]
    assert set(chunk_ids(indexer)) == {*pages.values(), pdf}
    state = WebSync(settings, indexer).state()
    assert state[gone]["misses"] == 2
    assert state[gone]["status"] == 404


def test_a_page_back_after_one_miss_is_kept_and_a_deleted_page_is_fetched_whole(
    site: Site, tmp_path: Path, embedder: Embedder
) -> None:
    site.put("/a.html", html_page("Sickness absence", sentences(7)))
    sources = [WebSource(url=site.url("/a.html"), topic="workforce")]
    settings = settings_for(tmp_path / "data")
    assert sync_urls(settings, indexer_for(settings, embedder), sources).added == 1
    body = site.resources["/a.html"]
    site.gone("/a.html")
    assert sync_urls(settings, indexer_for(settings, embedder), sources).deleted == 0
    site.resources["/a.html"] = body
    site.clear_log()
    back = sync_urls(settings, indexer_for(settings, embedder), sources)
    # Fetched whole (the 404 dropped its ETag), found to be the body already indexed: nothing embedded.
    assert (back.added, back.updated, back.not_modified, back.deleted, back.failed) == (0, 0, 1, 0, [])
    assert [(h.status, h.if_none_match) for h in site.log if h.path == "/a.html"] == [(200, None)]
    site.gone("/a.html")  # a single miss again: the count started over
    assert sync_urls(settings, indexer_for(settings, embedder), sources).deleted == 0
    assert set(chunk_ids(indexer_for(settings, embedder))) == {site.url("/a.html")}

    # Deleted from the index (an admin's delete): the next sync must not trust its ETag.
    site.resources["/a.html"] = body
    indexer = indexer_for(settings, embedder)
    indexer.delete_source(site.url("/a.html"))
    site.clear_log()
    again = sync_urls(settings, indexer, sources)
    assert again.added == 1
    assert [h.if_none_match for h in site.log if h.path == "/a.html"] == [None]


# ------------------------------------------------------------------------------ limits and types


def test_oversize_and_wrong_type_responses_are_reported_and_skipped(
    site: Site, tmp_path: Path, embedder: Embedder
) -> None:
    limit = 4000
    site.put("/ok.html", html_page("Complaints", sentences(8)))
    site.put("/big.html", html_page("Big", sentences(9, 200)))  # declares its length
    site.put("/endless.html", html_page("Endless", sentences(10, 200)), content_length=False)
    site.put("/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png")
    site.put("/page-as-pdf", html_page("Not a PDF", sentences(11)))
    sources = [WebSource(url=site.url(p)) for p in ("/ok.html", "/big.html", "/endless.html", "/logo.png")]
    sources.append(WebSource(url=site.url("/page-as-pdf"), kind="pdf"))
    settings = settings_for(tmp_path / "data", sync__max_bytes=limit)

    report = sync_urls(settings, indexer_for(settings, embedder), sources)

    assert len(site.resources["/big.html"].body) > limit
    found = errors(report)
    assert set(found) == {site.url(p) for p in ("/big.html", "/endless.html", "/logo.png", "/page-as-pdf")}
    assert found[site.url("/big.html")].startswith("oversize:")
    assert found[site.url("/endless.html")].startswith("oversize:")
    assert found[site.url("/logo.png")].startswith("wrong type: image/png")
    assert found[site.url("/page-as-pdf")].startswith("wrong type: expected a pdf, got html")
    assert report.added == 1
    assert set(chunk_ids(indexer_for(settings, embedder))) == {site.url("/ok.html")}


def test_detect_by_magic_header_and_text() -> None:
    assert detect(b"%PDF-1.7 ...", "text/html") == "pdf"
    assert detect(b"<!doctype html><title>x</title>", "") == "html"
    assert detect(b"<html><body>x</body></html>", "application/octet-stream") == "html"
    assert detect(b'<?xml version="1.0"?><sitemapindex xmlns="x">', "text/xml") == "sitemap"
    assert detect(b"plain words", "text/plain; charset=utf-8") == "text"
    assert detect(b"\x89PNG\r\n", "image/png") is None
    assert detect(b"PK\x03\x04 not really a zip", "application/zip") is None


def test_the_pages_own_date_is_found_in_its_text_and_never_invented() -> None:
    entry = WebSource(url="https://example.org/guide/leave", topic="workforce", publisher="BMA")
    dated = html_page("Annual leave", [*sentences(16), "Page last reviewed: 12 March 2024"])
    undated = html_page("Annual leave", sentences(16))
    docs = load_fetched(Fetched(200, entry.url, dated.encode()), "html", entry, "2026-01-02T03:04:05+00:00")
    assert docs[0].metadata["published"] == "2024-03-12"
    assert {k: docs[0].metadata[k] for k in ("url", "source", "topic", "publisher", "fetched_at")} == {
        "url": entry.url,
        "source": entry.url,
        "topic": "workforce",
        "publisher": "BMA",
        "fetched_at": "2026-01-02T03:04:05+00:00",
    }
    plain = load_fetched(
        Fetched(200, entry.url, undated.encode()), "html", entry, "2026-01-02T03:04:05+00:00"
    )
    assert "published" not in plain[0].metadata


def test_sitemap_index_expands_to_its_sitemaps_pages(site: Site, tmp_path: Path, embedder: Embedder) -> None:
    site.put("/p1.html", html_page("Data protection", sentences(12)))
    site.put("/p2.html", html_page("Freedom of information", sentences(13)))
    site.put("/sm-1.xml", sitemap([site.url("/p1.html")]), "application/xml")
    site.put("/sm-2.xml", sitemap([site.url("/p2.html")]), "application/xml")
    index = "".join(f"<sitemap><loc>{site.url(p)}</loc></sitemap>" for p in ("/sm-1.xml", "/sm-2.xml"))
    site.put(
        "/sitemap_index.xml",
        f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{index}</sitemapindex>',
        "text/xml",
    )
    settings = settings_for(tmp_path / "data")
    report = sync_urls(
        settings, indexer_for(settings, embedder), [WebSource(url=site.url("/sitemap_index.xml"))]
    )
    assert (report.added, report.failed) == (2, [])
    assert set(chunk_ids(indexer_for(settings, embedder))) == {site.url("/p1.html"), site.url("/p2.html")}


def test_sources_file_format_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "sources.yml"
    good.write_text(
        "- url: https://www.england.nhs.uk/gp/\n  topic: contract\n  publisher: NHS England\n"
        "- url: https://example.org/a.pdf\n  kind: pdf\n",
        encoding="utf-8",
    )
    assert [(s.url, s.kind, s.topic) for s in load_sources(good)] == [
        ("https://www.england.nhs.uk/gp/", None, "contract"),
        ("https://example.org/a.pdf", "pdf", None),
    ]
    bad = tmp_path / "bad.yml"
    bad.write_text("- url: ftp://example.org/x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"entry 1: url: .*http:// or https://"):
        load_sources(bad)
    example = Path(__file__).resolve().parent.parent / "sources.example.yml"
    assert all(s.url.startswith("https://") and s.publisher for s in load_sources(example))


# ------------------------------------------------------------------------------ the command


def pm_ingest(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = child_env()
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli", *map(str, args)],
        cwd=cwd,
        env={**clean, "PMA_SYNC__HOST_DELAY_S": "0", **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def parse_report(stdout: str) -> dict:
    assert stdout.endswith("\n"), stdout
    assert stdout.count("\n") == 1, stdout
    payload = json.loads(stdout)
    assert set(payload) == REPORT_KEYS
    return payload


@pytest.mark.timeout(1800)  # two process starts: minutes each on a loaded machine
def test_cli_url_sources_and_sync(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    site.put("/arrs.html", html_page("ARRS claims", sentences(14)))
    site.put("/missing.html", b"", status=404, etag=False)
    data = tmp_path / "data"
    url = site.url("/arrs.html")
    listed = tmp_path / "my-sources.yml"
    listed.write_text(f"- url: {url}\n  topic: pcn\n  publisher: NHS England\n", encoding="utf-8")

    # As real processes: `pm-ingest URL... --json`, then `pm-ingest sync` from the configured file.
    first = pm_ingest(url, site.url("/missing.html"), "--data-dir", data, "--json", cwd=tmp_path, env={})
    assert first.returncode == 0, first.stderr
    payload = parse_report(first.stdout)
    assert (payload["added"], payload["not_modified"], payload["documents"]) == (1, 0, 1)
    assert [f["source"] for f in payload["failed"]] == [site.url("/missing.html")]
    assert payload["failed"][0]["error"].startswith("HTTP 404")
    env = {"PMA_SYNC__SOURCES_PATH": str(listed), "PMA_DATA_DIR": str(data)}
    synced = pm_ingest("sync", "--json", cwd=tmp_path, env=env)
    assert synced.returncode == 0, synced.stderr
    assert {k: parse_report(synced.stdout)[k] for k in ("added", "updated", "not_modified")} == {
        "added": 0,
        "updated": 0,
        "not_modified": 1,
    }

    # The rest in this process (each process start costs a model-free but slow torch import).
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("PMA_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PMA_EMBEDDING__CACHE_DIR", child_env()["PMA_EMBEDDING__CACHE_DIR"])
    monkeypatch.setenv("PMA_SYNC__HOST_DELAY_S", "0")
    assert cli_main(["--sources", str(listed), "--data-dir", str(data), "--json"]) == 0
    assert parse_report(capsys.readouterr().out)["not_modified"] == 1
    site.gone("/arrs.html", status=410)
    assert cli_main([url, "--data-dir", str(data), "--json"]) == 1  # every URL failed
    assert [f["source"] for f in parse_report(capsys.readouterr().out)["failed"]] == [url]
    for argv, message in (
        (["sync", url], "takes no paths"),
        (["--json"], "give at least one PATH or URL"),
        (["sync"], "sources.yml: cannot read"),
        ([url, "--dry-run"], "apply to files and folders only"),
    ):
        with pytest.raises(SystemExit) as exited:
            cli_main(argv)
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "usage: pm-ingest" in err
        assert message in err


# ------------------------------------------------------------------------------ served answers


def test_serve_syncs_on_a_schedule_and_answers_show_the_fetched_date(
    site: Site, tmp_path: Path, embedder: Embedder
) -> None:
    text = [
        "Practices must publish their complaints procedure on the practice website and in the waiting room.",
        "A complaint should be acknowledged within three working days of the practice receiving it.",
        "The practice manager usually acts as the complaints manager and keeps a record of every complaint.",
    ]
    site.put("/complaints.html", html_page("Handling complaints", text, published="2024-06-03"))
    sources = tmp_path / "sources.yml"
    sources.write_text(
        f"- url: {site.url('/complaints.html')}\n  topic: complaints\n  publisher: NHS England\n",
        encoding="utf-8",
    )
    settings = settings_for(tmp_path / "data", sync__sources_path=sources, sync__interval_hours=24.0)
    service = AnswerService(settings, embedder=embedder)

    # Never synced: the first run is due at once.
    with TestClient(create_app(service, settings)):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not service.documents():
            time.sleep(0.2)
    assert [d.source for d in service.documents()] == [site.url("/complaints.html")]
    # Restarted well within the interval: no sync until one interval after the last.
    site.clear_log()
    with TestClient(create_app(service, settings)):
        time.sleep(1.5)
    assert site.paths() == []

    answer = service.answer("How quickly must a complaint be acknowledged?")
    assert answer.grounded, answer.answer
    cited = answer.sources[0]
    assert (cited.source, cited.url, cited.published) == (site.url("/complaints.html"),) * 2 + ("2024-06-03",)
    assert cited.fetched_at is not None
    assert datetime.fromisoformat(cited.fetched_at).date() == datetime.now(UTC).date()


def test_no_schedule_when_the_interval_is_unset(site: Site, tmp_path: Path, embedder: Embedder) -> None:
    site.put("/x.html", html_page("Anything", sentences(15)))
    sources = tmp_path / "sources.yml"
    sources.write_text(f"- url: {site.url('/x.html')}\n", encoding="utf-8")
    settings = settings_for(tmp_path / "data", sync__sources_path=sources)
    with TestClient(create_app(AnswerService(settings, embedder=embedder), settings)):
        time.sleep(1.0)
    assert site.paths() == []


def test_admin_sources_lists_the_file_with_each_sync_result_and_sync_now_runs_a_job(
    site: Site, tmp_path: Path, embedder: Embedder
) -> None:
    site.put("/complaints.html", html_page("Handling complaints", sentences(16)))
    site.put("/index.xml", sitemap([site.url("/from-map.html")]), "application/xml")
    site.put("/from-map.html", html_page("Found in the sitemap", sentences(17)))
    sources = tmp_path / "sources.yml"
    token = "sources-admin-token"
    admin = {"Authorization": f"Bearer {token}"}
    settings = settings_for(tmp_path / "data", sync__sources_path=sources, api__admin_token=token)
    client = TestClient(create_app(AnswerService(settings, embedder=embedder), settings))

    # No sources file yet: an empty list that says so, and "sync now" explains why it cannot run.
    empty = client.get("/v1/admin/sources", headers=admin).json()
    assert (empty["configured"], empty["sources"], empty["sources_file"]) == (False, [], str(sources))
    refused = client.post("/v1/admin/sources/sync", headers=admin)
    assert refused.status_code == 409
    assert "PMA_SYNC__SOURCES_PATH" in refused.json()["detail"]
    assert client.get("/v1/admin/sources").status_code == 401

    sources.write_text(
        f"- url: {site.url('/complaints.html')}\n  topic: complaints\n  publisher: NHS England\n"
        f"- url: {site.url('/index.xml')}\n  kind: sitemap\n",
        encoding="utf-8",
    )
    listed = client.get("/v1/admin/sources", headers=admin).json()["sources"]
    assert [(s["url"], s["result"], s["last_synced"]) for s in listed] == [
        (site.url("/complaints.html"), "not synced yet", None),
        (site.url("/index.xml"), "not synced yet", None),
    ]

    started = client.post("/v1/admin/sources/sync", headers=admin)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 300
    while (job := client.get(f"/v1/admin/jobs/{started.json()['job_id']}", headers=admin).json())[
        "status"
    ] not in {"done", "failed"} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (job["kind"], job["status"]) == ("sync", "done"), job
    assert job["report"]["added"] == 2  # the page, and the page the sitemap lists

    after = {s["url"]: s for s in client.get("/v1/admin/sources", headers=admin).json()["sources"]}
    page = after[site.url("/complaints.html")]
    assert (page["result"], page["status"], page["topic"], page["from_sitemap"]) == (
        "fetched",
        200,
        "complaints",
        False,
    )
    assert page["last_synced"] is not None
    assert after[site.url("/from-map.html")]["from_sitemap"] is True

    # Synced again and waited for: every page answers 304, nothing is embedded.
    again = client.post("/v1/admin/sources/sync?wait=true", headers=admin)
    assert again.status_code == 200, again.text
    assert (again.json()["not_modified"], again.json()["added"], again.json()["updated"]) == (2, 0, 0)
    assert client.get("/v1/admin/sources", headers=admin).json()["sources"][0]["result"] == "not modified"
