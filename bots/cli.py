"""`pm-assistant`: ask (one question or a batch), eval, serve (API + web chat), slack (Socket Mode).

Every subcommand builds one `Settings` from the environment (`PMA_*`) and `--data-dir`, and one
`AnswerService`; nothing here retrieves or composes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.owners import LOCAL_OWNER
from assistant.types import Answer, QuestionError, UnknownConversation


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "data_dir", None) is not None:
        settings.data_dir = args.data_dir
    return settings


def _service(settings: Settings) -> Any:
    from assistant.service import AnswerService

    service = AnswerService.from_settings(settings)
    service.warm_up()
    return service


def _answer_json(answer: Answer, qid: Any = None) -> dict[str, Any]:
    """The batch/JSON line shape: id, answer, grounded, composer, sources (cited), retrieved (the top-k
    passages, cited or not, with their features), notes, timings_ms (+ ids)."""
    out: dict[str, Any] = {} if qid is None else {"id": qid}
    out.update(
        {
            "answer": answer.answer,
            "grounded": answer.grounded,
            "composer": answer.composer,
            "sources": [
                {
                    "title": s.title,
                    "source": s.source,
                    "section": s.section,
                    "url": s.url,
                    "published": s.published,
                    "score": s.score,
                    "text": s.text,
                }
                for s in answer.sources
            ],
            "retrieved": [r.model_dump() for r in answer.retrieved],
            "notes": answer.notes,
            "timings_ms": answer.timings_ms,
            "conversation_id": answer.conversation_id,
            "message_id": answer.message_id,
        }
    )
    return out


def _print_answer(answer: Answer) -> None:
    from rich.console import Console

    console = Console()
    console.print(answer.answer, markup=False, highlight=False)
    for note in answer.notes:
        console.print(f"[yellow]Note:[/yellow] {note}", highlight=False)
    if answer.sources:
        console.print("\n[bold]Sources[/bold]")
        for s in answer.sources:
            where = f" — {s.section}" if s.section else ""
            date = f" ({s.published})" if s.published else ""
            console.print(f"[{s.n}] {s.title}{where}{date}  {s.url or s.source}", markup=False)


def cmd_ask(args: argparse.Namespace) -> int:
    if bool(args.question) == bool(args.batch):
        print("pm-assistant ask: give one QUESTION or --batch FILE", file=sys.stderr)
        return 2
    service = _service(_settings(args))
    if args.question:
        try:
            answer = service.answer(args.question, channel="cli", owner=LOCAL_OWNER)
        except QuestionError as exc:
            print(f"pm-assistant ask: {exc}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps(_answer_json(answer)))
        else:
            _print_answer(answer)
        return 0
    source = sys.stdin if str(args.batch) == "-" else args.batch.open(encoding="utf-8")
    with source:
        for n, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item.get("question"), str):
                    raise TypeError("'question' must be a string")
                conversation_id = item.get("conversation_id")
                if conversation_id is not None:
                    # Batch lines chain by a label of the user's choosing; the terminal owns its labels.
                    conversation_id = str(conversation_id)
                    if not service.open_conversation(conversation_id, LOCAL_OWNER, "cli"):
                        raise UnknownConversation(f"conversation {conversation_id!r} is not a CLI one")
                answer = service.answer(item["question"], conversation_id, channel="cli", owner=LOCAL_OWNER)
                out = _answer_json(answer, item.get("id"))
            except (ValueError, KeyError, TypeError, UnknownConversation) as exc:
                out = {"id": None, "error": f"line {n}: {exc}"}
                if isinstance(exc, QuestionError | UnknownConversation):
                    out["id"] = item.get("id")
            print(json.dumps(out), flush=True)  # batch output is always JSON lines
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    service = _service(_settings(args))
    try:
        response = service.search_passages(args.query, args.k)
    except QuestionError as exc:
        print(f"pm-assistant search: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(response.model_dump_json())
        return 0
    for n, p in enumerate(response.passages, start=1):
        where = f" — {p.section}" if p.section else ""
        features = " ".join(f"{k}={v:.3f}" for k, v in p.features.items())
        print(f"{n}. {p.score:.3f}  {p.title}{where}  ({p.source})\n   {features}\n   {p.text[:240]}\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.evaluation import evaluate, load_questions

    service = _service(_settings(args))
    reports = {path: evaluate(service, load_questions(path)) for path in args.files}
    if args.json:
        print(
            json.dumps(
                {str(p): r.as_dict() for p, r in reports.items()}
                if len(reports) > 1
                else next(iter(reports.values())).as_dict()
            )
        )
        return 0
    for path, report in reports.items():
        print(report.text(f"== {path} =="), end="\n\n")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bots.api import create_app

    settings = _settings(args)
    app = create_app(_service(settings), settings)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def cmd_slack(args: argparse.Namespace) -> int:
    from bots.slack.socket import run_socket_mode

    settings = _settings(args)
    if not (settings.slack.app_token and settings.slack.bot_token):
        print("pm-assistant slack: set PMA_SLACK__APP_TOKEN and PMA_SLACK__BOT_TOKEN", file=sys.stderr)
        return 2
    run_socket_mode(_service(settings), settings)
    return 0


def cmd_answers(args: argparse.Namespace) -> int:
    """Approved answers as YAML, to keep under version control beside the corpus."""
    from assistant.approved import ApprovedAnswerError
    from assistant.service import AnswerService

    service = AnswerService.from_settings(_settings(args))  # no model load: nothing is embedded here
    if args.action == "export":
        text = service.approved.export_yaml()
        if args.file and str(args.file) != "-":
            args.file.write_text(text, encoding="utf-8")
            print(f"wrote {len(service.approved.all())} approved answers to {args.file}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0
    if not args.file:
        print("pm-assistant answers import: give the YAML FILE to import", file=sys.stderr)
        return 2
    try:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
        added, updated = service.approved.import_yaml(text)
    except OSError as exc:
        print(f"pm-assistant answers import: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    except ApprovedAnswerError as exc:
        print(f"pm-assistant answers import: {exc}. Nothing was imported.", file=sys.stderr)
        return 1
    print(f"imported {added + updated} approved answers ({added} new, {updated} updated)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pm-assistant", description="Practice Manager Assistant")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", type=Path, help="index and app data (default: PMA_DATA_DIR or ./var)")

    ask = sub.add_parser("ask", help="answer one question, or a JSONL batch")
    ask.add_argument("question", nargs="?", help="the question")
    ask.add_argument("--batch", type=Path, help='JSONL file of {"id", "question"} lines ("-" for stdin)')
    ask.add_argument("--json", action="store_true", help="print JSON")
    data_dir(ask)
    ask.set_defaults(func=cmd_ask)

    search = sub.add_parser("search", help="show the ranked passages for a query, with their features")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=6, help="how many passages (default 6)")
    search.add_argument("--json", action="store_true", help='print {"query", "passages": [...]}')
    data_dir(search)
    search.set_defaults(func=cmd_search)

    ev = sub.add_parser("eval", help="measure answer quality on question sets (e.g. the three splits)")
    ev.add_argument("files", type=Path, nargs="+", metavar="FILE")
    ev.add_argument("--json", action="store_true")
    data_dir(ev)
    ev.set_defaults(func=cmd_eval)

    serve = sub.add_parser("serve", help="serve the HTTP API and web chat")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    data_dir(serve)
    serve.set_defaults(func=cmd_serve)

    answers = sub.add_parser("answers", help="export or import approved answers as YAML")
    answers.add_argument("action", choices=["export", "import"])
    answers.add_argument("file", nargs="?", type=Path, help="YAML file (export: default stdout)")
    data_dir(answers)
    answers.set_defaults(func=cmd_answers)

    slack = sub.add_parser("slack", help="run the Slack bot in Socket Mode")
    data_dir(slack)
    slack.set_defaults(func=cmd_slack)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
