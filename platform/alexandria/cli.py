"""``alexandria``: the command line of the server side.

``alexandria ask "question"`` prints a grounded answer: the matching claims, their arguments
pro and contra, related instructions and each source passage as ``url  [start:end]  "fragment"``
(the words kept of its ends, ``text_start … text_end``), with the span's and the source's
SHA-256 and a link that highlights the passage (W3C text fragment).
On the server it reads the database directly; with ``--api`` it asks a remote server over HTTP
(as the bot service account, on behalf of a member). Subcommands register in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from alexandria.core.jsonlines import json_objects
from alexandria.demo import add_demo
from alexandria.evaluation.fidelity import add_eval

AGE_RATINGS = (0, 6, 12, 16, 18)


def _local_answer(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")
    import django

    django.setup()
    # Lazy: search needs django.setup() first and loads the vector store (chromadb), which
    # ``--api`` and the other subcommands must start without.
    from alexandria.figures.selectors import search_figures
    from alexandria.search.querying import ask
    from alexandria.search.serializers import AskResultSerializer

    result = ask(
        args.question,
        layer=args.layer,
        min_status=args.min_status,
        max_age_rating=args.max_age_rating,
        limit=args.limit,
        summarise=not args.no_summary,
    )
    result.figures = search_figures(args.question, max_age_rating=args.max_age_rating)
    return AskResultSerializer(result).data


def _remote_answer(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    if not args.token:
        raise SystemExit("--api needs --token (or ALEXANDRIA_TOKEN): the bot service token")
    params: dict[str, Any] = {
        "q": args.question,
        "min_status": args.min_status,
        "limit": args.limit,
        "summary": "false" if args.no_summary else "true",
    }
    if args.layer is not None:
        params["layer"] = args.layer
    if args.max_age_rating is not None:
        params["max_age_rating"] = args.max_age_rating
    headers = {"Authorization": f"Bot {args.token}", "X-Discord-User": args.member}
    try:
        response = httpx.get(
            f"{args.api.rstrip('/')}/api/v1/ask", params=params, headers=headers, timeout=60
        )
    except httpx.HTTPError as exc:
        raise SystemExit(f"cannot reach {args.api}: {exc}") from exc
    if response.status_code != 200:
        raise SystemExit(f"the server answered {response.status_code}: {response.text[:500]}")
    return response.json()


def _item_line(item: dict[str, Any]) -> str:
    line = f"#{item['id']} (L{item['layer']} {item['kind']}) {item['text']}"
    return f"{line}  (pending review)" if item["status"] == "pending" else line


def _citation_lines(source: dict[str, Any]) -> list[str]:
    where = source["url"] or source["title"]
    quote = f'"{source["fragment"]}"' if source["fragment"] else "(no words kept)"
    lines = [
        f"     {where}  [{source['start']}:{source['end']}]  {quote}",
        f"       span sha256 {source['span_sha256']}  source sha256 {source['source_sha256']}",
    ]
    if source["link"] and source["link"] != source["url"]:
        lines.append(f"       {source['link']}")
    return lines


def format_answer(answer: dict[str, Any]) -> str:
    lines = [f"Q: {answer['query']}", ""]
    if not answer["results"]:
        lines.append("Nothing in the knowledge base matches this question (with these filters).")
    for number, result in enumerate(answer["results"], start=1):
        lines.append(f"{number}. {_item_line(result['item'])}  [score {result['score']:.2f}]")
        if result["sources"]:
            lines.append("   sources:")
        for source in result["sources"]:
            lines.extend(_citation_lines(source))
        for key in ("pro", "contra", "related", "instructions"):
            for item in result.get(key, []):
                lines.append(f"   {key}: {_item_line(item)}")
                for source in item.get("sources", []):
                    lines.extend(_citation_lines(source))
        lines.append("")
    summary = answer.get("summary")
    if summary:
        cited = ", ".join(f"#{i}" for i in summary["cited_item_ids"])
        lines.append(f"Summary: {summary['text']}  (cites {cited})")
    for figure in answer.get("figures") or []:
        lines.extend(_figure_lines(figure))
    return "\n".join(lines).rstrip() + "\n"


def _figure_lines(figure: dict[str, Any]) -> list[str]:
    """A matching figure: its source, page and number, the caption's words and offsets."""
    source, caption = figure["source"], figure["caption"]
    page = f"p. {figure['page']}, " if figure["page"] else ""
    where = f"{source['url'] or source['title']}  {page}figure {figure['index'] + 1}"
    if caption is None:
        quote = "(no caption found)"
    else:
        words = f'"{caption["fragment"]}"' if caption["fragment"] else "(no words kept)"
        quote = f"caption [{caption['start']}:{caption['end']}] {words}"
    return [
        f"Figure: {where}  {quote}  [similarity {figure['similarity']:.2f}]",
        f"   {figure['source_page']}",
    ]


def cmd_ask(args: argparse.Namespace) -> int:
    answer = _remote_answer(args) if args.api else _local_answer(args)
    sys.stdout.write(json.dumps(answer, indent=2) + "\n" if args.json else format_answer(answer))
    return 0


def add_ask(subparsers) -> None:
    parser = subparsers.add_parser("ask", help="Ask the knowledge base a question.")
    parser.add_argument("question")
    parser.add_argument("--layer", type=int, help="Only this abstraction layer.")
    parser.add_argument(
        "--min-status",
        choices=("pending", "accepted"),
        default="accepted",
        help="accepted: reviewed items only (default); pending: unreviewed ones too.",
    )
    parser.add_argument("--max-age-rating", type=int, choices=AGE_RATINGS)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--no-summary", action="store_true", help="Skip the LLM summary.")
    parser.add_argument("--json", action="store_true", help="Print the raw JSON answer.")
    parser.add_argument(
        "--api",
        default=os.environ.get("ALEXANDRIA_API_URL", ""),
        help="Base URL of a remote server (default: this server's database).",
    )
    parser.add_argument(
        "--token", default=os.environ.get("ALEXANDRIA_TOKEN", ""), help="Bot service token."
    )
    parser.add_argument(
        "--member",
        default=os.environ.get("ALEXANDRIA_DISCORD_USER", ""),
        help="Discord id of the member asking (with --api).",
    )
    parser.set_defaults(handler=cmd_ask)


def cmd_audit_retention(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")
    import django
    from django.core.management import call_command
    from django.core.management.base import CommandError

    django.setup()
    try:
        call_command("audit_retention")
    except CommandError as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.returncode
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the web pages and the API on a var directory's embedded data (the demo's)."""
    var_dir = Path(args.var_dir).resolve()
    if not (var_dir / "alexandria.sqlite3").is_file():
        sys.stderr.write(f"no Alexandria data under {var_dir}: run `make demo` first\n")
        return 2
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CHROMA_URL", "CACHE_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "ALEXANDRIA_ENV": "development",
            "ALEXANDRIA_VAR_DIR": str(var_dir),
            "DJANGO_SETTINGS_MODULE": "alexandria.settings",
            "HF_HUB_OFFLINE": "1",
        }
    )
    import django

    django.setup()
    from django.core.servers.basehttp import run
    from django.core.wsgi import get_wsgi_application

    print(f"Alexandria on {var_dir}: http://{args.host}:{args.port}/ (Ctrl-C stops)", flush=True)
    try:
        # One process: the embedded Chroma index is single-process.
        run(args.host, args.port, get_wsgi_application(), threading=True)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        sys.stderr.write(f"cannot listen on {args.host}:{args.port}: {exc}\n")
        return 2
    return 0


def add_serve(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="Serve the public web pages and the API on embedded data (the demo's)."
    )
    parser.add_argument("--var-dir", default=os.path.join("var", "demo"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.set_defaults(handler=cmd_serve)


def add_audit_retention(subparsers) -> None:
    parser = subparsers.add_parser(
        "audit-retention",
        help="Check that nothing stored repeats RETENTION_MAX_RUN_WORDS (12) consecutive words "
        "of a purged source (exit 1 on a finding, 2 when something could not be audited).",
    )
    parser.set_defaults(handler=cmd_audit_retention)


def _json_lines(stream, text_keys: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The non-blank lines of a JSON-lines input as objects whose ``text_keys`` hold text; a
    ValueError naming the line otherwise."""
    for number, row in json_objects(stream):
        for key in text_keys:
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise ValueError(f"line {number}: {key!r} must be a non-empty string")
        yield number, row


def _stance_lines(stream) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, row in _json_lines(stream, ("claim", "other")):
        hint = row.get("relation_hint")
        if hint is not None and not isinstance(hint, str):
            raise ValueError(f"line {number}: 'relation_hint' must be a string")
        yield number, row


def cmd_stance_decide(args: argparse.Namespace) -> int:
    # Plain functions (no Django): this command needs no database or settings.
    from alexandria.search.stances import cheap_stance

    try:
        stream = sys.stdin if args.triples == "-" else open(args.triples, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        sys.stderr.write(f"cannot read {args.triples}: {exc.strerror}\n")
        return 2
    with stream:
        try:
            for _, row in _stance_lines(stream):
                call = cheap_stance(row["claim"], row["other"], row.get("relation_hint"))
                sys.stdout.write(json.dumps({"label": call.label, "basis": call.basis}) + "\n")
        except (ValueError, UnicodeDecodeError) as exc:
            sys.stderr.write(f"{args.triples}: {exc}\n")
            return 2
    return 0


def add_stance_decide(subparsers) -> None:
    parser = subparsers.add_parser(
        "stance-decide",
        help="Label each {claim, other} line pro / contra / related from the cheap signals "
        "alone (negation, opposite predicates, relation_hint): the evidence /ask has before a "
        "judge_stance verdict. Never says pro. Bad input exits 2.",
    )
    parser.add_argument(
        "triples", help='JSON lines {"claim", "other", "relation_hint"?}; - = stdin'
    )
    parser.set_defaults(handler=cmd_stance_decide)


def _merge_pairs(stream) -> list[tuple[str, str, str]]:
    """Every line checked before anything is decided: a bad line stops the run unprinted."""
    pairs = []
    for number, row in _json_lines(stream, ("a", "b")):
        if row.get("kind") not in ("hypothesis", "instruction"):
            raise ValueError(f'line {number}: \'kind\' must be "hypothesis" or "instruction"')
        pairs.append((row["a"], row["b"], row["kind"]))
    return pairs


def cmd_merge_decide(args: argparse.Namespace) -> int:
    try:
        stream = sys.stdin if args.pairs == "-" else open(args.pairs, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        sys.stderr.write(f"cannot read {args.pairs}: {exc.strerror}\n")
        return 2
    with stream:
        try:
            pairs = _merge_pairs(stream)
        except (ValueError, UnicodeDecodeError) as exc:
            sys.stderr.write(f"{args.pairs}: {exc}\n")
            return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")
    import django

    django.setup()
    # Lazy: the embedder (torch) and the settings need django.setup() and are slow to load.
    from alexandria.embeddings import get_embedder, similarity_threshold
    from alexandria.layers.merge_decision import decide_pairs

    recall = similarity_threshold("MERGE_RECALL_THRESHOLD")
    for decision in decide_pairs(pairs, get_embedder(), recall=recall):
        sys.stdout.write(
            json.dumps(
                {
                    "decision": decision.decision,
                    "reason": decision.reason,
                    "similarity": decision.similarity,
                }
            )
            + "\n"
        )
    return 0


def add_merge_decide(subparsers) -> None:
    parser = subparsers.add_parser(
        "merge-decide",
        help="Decide merge / verify / apart for each {a, b, kind} line with the embedder and "
        "guards the merge task uses (an instruction: goal line, then one step per line). "
        "Bad input exits 2 before anything is printed.",
    )
    parser.add_argument("pairs", help='JSON lines {"a", "b", "kind"}; - = stdin')
    parser.set_defaults(handler=cmd_merge_decide)


def cmd_release(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")
    import django
    from django.core.management import call_command
    from django.core.management.base import CommandError

    django.setup()
    options = {k: getattr(args, k) for k in ("diff", "genre", "language", "domain", "out")}
    try:
        call_command(
            "release",
            **options,
            include_pending=args.include_pending,
            no_progress=args.no_progress,
        )
    except CommandError as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.returncode
    return 0


def add_release(subparsers) -> None:
    parser = subparsers.add_parser(
        "release",
        help="Write a dataset release (Parquet in the Hugging Face layout, dataset card, "
        "manifest, deletions) of the accepted knowledge; served at /releases/.",
    )
    parser.add_argument("--diff", action="store_true", help="Only changes since the last one.")
    parser.add_argument("--genre", default="", help="Only items grounded in this genre.")
    parser.add_argument("--language", default="", help="Only sources in this language.")
    parser.add_argument("--domain", default="", help="Only sources from this domain.")
    parser.add_argument("--out", default="", help="Folder (default: RELEASES_ROOT).")
    parser.add_argument(
        "--include-pending", action="store_true", help="Also unreviewed items (labelled)."
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(handler=cmd_release)


COMMANDS: list[Callable[[Any], None]] = [
    add_ask,
    add_demo,
    add_audit_retention,
    add_serve,
    add_stance_decide,
    add_merge_decide,
    add_release,
    add_eval,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alexandria", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
