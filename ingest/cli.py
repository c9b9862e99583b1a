"""`pm-ingest PATH|URL... [--sources FILE] [--data-dir DIR] [--prune] [--dry-run] [--json]`, and
`pm-ingest sync` (every source in the configured sources file once, for cron or a systemd timer).

An argument starting with http:// or https:// is a URL; anything else is a file or folder.
Exit codes: 0 when at least one file or page was processed without error (or there was nothing to do),
1 when every one failed, 2 for usage errors and for an unusable data dir, Chroma server or database.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.config import Settings
from assistant.types import IngestReport
from ingest.indexer import Progress as IngestProgress
from ingest.web import SourcesError, WebSource, is_url, load_sources


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pm-ingest", description="Ingest guidance documents into the assistant's index."
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH|URL",
        help="files, folders or http(s) URLs to ingest; `sync` alone syncs the configured sources file",
    )
    parser.add_argument("--sources", type=Path, help="a sources.yml of web pages, PDFs and sitemaps to sync")
    parser.add_argument(
        "--data-dir", type=Path, help="where the index lives (default: PMA_DATA_DIR or ./var)"
    )
    parser.add_argument("--prune", action="store_true", help="delete documents no longer under these paths")
    parser.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    return parser


def settings_for(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    return settings


def run_ingest(
    settings: Settings,
    paths: list[Path],
    *,
    prune: bool,
    dry_run: bool,
    quiet: bool,
    urls: list[WebSource] | None = None,
) -> IngestReport:
    from assistant.embeddings import embedder_for
    from assistant.store import open_store
    from ingest.indexer import Indexer
    from ingest.web import sync_urls

    console = Console(stderr=True, quiet=quiet)
    embedder = embedder_for(settings)
    indexer = Indexer(settings, open_store(settings, embedder))
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=quiet) as bars:
        files = bars.add_task("files", total=None)
        chunks = bars.add_task("embedding chunks", total=None)
        hooks = IngestProgress(
            on_files=lambda n: bars.update(files, total=n),
            on_file_done=lambda _s: bars.advance(files),
            on_chunks=lambda n: bars.update(chunks, total=n),
            on_chunks_done=lambda n: bars.advance(chunks, n),
        )
        report = indexer.run(paths, prune=prune, dry_run=dry_run, progress=hooks) if paths else None
        if urls:
            bars.update(files, completed=0, total=None, description="pages")
            report = sync_urls(settings, indexer, urls, report=report, progress=hooks)
        if not dry_run:
            # The serving index (BM25, mapped sentence matrix, texts) is written now, by the ingest,
            # so a server started on this data dir is ready in seconds rather than rebuilding it.
            from assistant.index_cache import IndexCache

            bars.update(files, description="serving index")
            IndexCache(indexer.store, settings.data_dir / "index-cache").current()
        return report or IngestReport()


def print_report(report: IngestReport, console: Console, dry_run: bool) -> None:
    table = Table(title="Ingest report" + (" (dry run: nothing changed)" if dry_run else ""))
    names = (
        "added",
        "updated",
        "skipped",
        "not modified",
        "deleted",
        "failed",
        "repaired",
        "documents",
        "chunks",
    )
    for name in names:
        table.add_column(name, justify="right")
    table.add_row(
        *(
            str(v)
            for v in (
                report.added,
                report.updated,
                report.skipped,
                report.not_modified,
                report.deleted,
                len(report.failed),
                report.repaired,
                report.documents,
                report.chunks,
            )
        )
    )
    console.print(table)
    for failure in report.failed:
        console.print(f"[red]failed[/red] {failure.source}: {failure.error}")


def exit_code(report: IngestReport) -> int:
    processed = report.added + report.updated + report.skipped + report.not_modified + report.deleted
    return 1 if report.failed and processed == 0 else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = settings_for(args.data_dir)
    given: list[str] = args.paths
    sync = given[:1] == ["sync"]  # a folder called sync is still `pm-ingest ./sync`
    if sync and (given[1:] or args.sources):
        parser.error("`pm-ingest sync` takes no paths, URLs or --sources")
    if not given and args.sources is None:
        parser.error("give at least one PATH or URL, --sources FILE, or `sync`")
    urls = [WebSource(url=arg) for arg in given if is_url(arg)]
    paths = [Path(arg) for arg in given if not is_url(arg) and not sync]
    try:
        if sync or args.sources is not None:
            urls += load_sources(settings.sync.sources_path if sync else args.sources)
    except SourcesError as exc:
        parser.error(str(exc))
    if urls and (args.dry_run or args.prune):
        parser.error("--dry-run and --prune apply to files and folders only, not to web sources")
    from assistant.preflight import StartupError, check_all

    try:
        check_all(settings)
    except StartupError as exc:
        print(f"pm-ingest: {exc}", file=sys.stderr)
        return 2
    report = run_ingest(settings, paths, prune=args.prune, dry_run=args.dry_run, quiet=args.json, urls=urls)
    if args.json:
        sys.stdout.write(json.dumps(report.model_dump(mode="json")) + "\n")
    else:
        print_report(report, Console(), args.dry_run)
    return exit_code(report)


if __name__ == "__main__":
    sys.exit(main())
