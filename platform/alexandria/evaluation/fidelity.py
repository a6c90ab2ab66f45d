"""``alexandria eval fidelity``: how much knowledge survives extraction, measured with LAION's
multiple-choice protocol.

Each text of the input goes through Alexandria's real pipeline, as in ``alexandria demo``
(embedded platform in ``--var-dir``, a volunteer node on ``--llm-base-url``), until its text is
purged. Then the same model answers every question twice: from what Alexandria stores of that
text only, and from the original text, which only this command kept. It prints both
accuracies and their difference with a 95 % interval (``statistics``); ``--json`` and
``--output`` give the same as JSON, which names rows and letters, never the texts or questions.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from alexandria.demo import member_client, run_node_until_idle, start_embedded_api
from alexandria.evaluation.answering import Answerer, Choice, LLMUnavailable
from alexandria.evaluation.dataset import EvalText, FidelityInputError, load_questions
from alexandria.evaluation.report import Analysed, build_report, format_report

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
LICENCE_NOTE = "evaluation input, analysed on the evaluator's own machine"
# Conditions, in the order answered; the difference reported is knowledge - original.
KNOWLEDGE, ORIGINAL, NO_CONTEXT = "knowledge", "original", "no_context"


def _positive_int(value: str) -> int:
    """argparse type: refuses 0 and negatives before hours of analysis, not after."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _submit(client, texts: list[EvalText]) -> list[int]:
    """Submit each text as a member would; its source id (retrying the rate limit)."""
    ids = []
    for number, item in enumerate(texts, start=1):
        body = {"text": item.text, "title": f"fidelity text {number}", "licence_note": LICENCE_NOTE}
        while (response := client.post("/api/v1/sources", json=body)).status_code == 429:
            time.sleep(float(response.headers.get("Retry-After") or 5))
        if response.status_code in (400, 409, 413):
            detail = response.json().get("detail", response.text)
            raise FidelityInputError(
                f"text of row {item.questions[0].row} was refused by the platform: {detail}"
            )
        response.raise_for_status()
        ids.append(response.json()["source"]["id"])
    return ids


def analyse(args: argparse.Namespace, texts: list[EvalText]) -> list[Analysed]:
    """Run every text through the pipeline on a fresh embedded platform; what is stored of
    each once the node is idle. Progress goes to stderr (stdout is the report's)."""
    var_dir = Path(args.var_dir).resolve()
    bot_token = secrets.token_urlsafe(24)
    with contextlib.redirect_stdout(sys.stderr):
        api_url, server = start_embedded_api(var_dir, bot_token)
        # After django.setup(), which start_embedded_api made.
        from alexandria.evaluation.knowledge import stored_knowledge
        from alexandria.sources.models import Source

        try:
            with member_client(api_url, bot_token) as client:
                ids = _submit(client, texts)
                run_node_until_idle(args, client, api_url, var_dir / "worker.log")
        finally:
            server.shutdown()
    purged = set(
        Source.objects.filter(pk__in=ids, text_purged_at__isnull=False).values_list("pk", flat=True)
    )
    knowledge = stored_knowledge(ids, facts=args.with_facts)
    return [Analysed(pk, pk in purged, knowledge[pk]) for pk in ids]


def answer_all(
    answerer: Answerer, contexts: dict[str, list[str]], texts: list[EvalText], workers: int
) -> list[list[dict[str, Choice]]]:
    """``choices[text][question][condition]``, asked ``workers`` at a time."""
    jobs = [
        (t, q, condition, partial(answerer.choose, context[t], question))
        for t, item in enumerate(texts)
        for q, question in enumerate(item.questions)
        for condition, context in contexts.items()
    ]
    choices: list[list[dict[str, Choice]]] = [[{} for _ in item.questions] for item in texts]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [(t, q, condition, pool.submit(ask)) for t, q, condition, ask in jobs]
        for t, q, condition, future in futures:
            choices[t][q][condition] = future.result()
    return choices


def run_fidelity(args: argparse.Namespace) -> int:
    def fail(message: str) -> int:
        print(f"alexandria eval fidelity: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    path = Path(args.input)
    try:
        texts = load_questions(path)
    except FidelityInputError as exc:
        return fail(str(exc))
    answerer = Answerer(
        args.llm_base_url, args.model, api_key=args.api_key, max_tokens=args.max_tokens
    )
    try:
        answerer.check()
        analysed = analyse(args, texts)
        contexts = {
            KNOWLEDGE: ["\n".join(a.knowledge) for a in analysed],
            ORIGINAL: [item.text for item in texts],
        }
        if args.no_context:
            contexts[NO_CONTEXT] = ["" for _ in texts]
        choices = answer_all(answerer, contexts, texts, args.answer_concurrency)
    except (FidelityInputError, LLMUnavailable) as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("alexandria eval fidelity: interrupted; the node is stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        answerer.close()
    report = build_report(
        texts,
        analysed,
        choices,
        difference=(KNOWLEDGE, ORIGINAL),
        meta={
            "input": {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
            "model": args.model,
            "knowledge": "items and facts" if args.with_facts else "items",
        },
        resamples=args.resamples,
    )
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(json.dumps(report, indent=2) + "\n" if args.json else format_report(report))
    return 0


def add_eval(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="Measure what Alexandria keeps of its texts.")
    evaluations = parser.add_subparsers(dest="evaluation", required=True)
    fidelity = evaluations.add_parser(
        "fidelity",
        help="LAION's multiple-choice protocol: answer each question from Alexandria's stored "
        "knowledge of its text and from the text itself; both accuracies and the difference "
        "with a 95 %% interval. Bad input or an unreachable model exits 2.",
    )
    fidelity.add_argument(
        "input",
        help="JSON lines (.jsonl) or Parquet: one row per {text, question, options, answer}",
    )
    fidelity.add_argument(
        "--llm-base-url",
        required=True,
        help="OpenAI-compatible server (vLLM: http://HOST:8000/v1).",
    )
    fidelity.add_argument("--model", required=True, help="Model name on --llm-base-url.")
    fidelity.add_argument(
        "--api-key", default=os.environ.get("LLM_API_KEY", ""), help="Default: LLM_API_KEY."
    )
    fidelity.add_argument(
        "--var-dir", default=os.path.join("var", "eval-fidelity"), help="Wiped first."
    )
    fidelity.add_argument(
        "--with-facts",
        action="store_true",
        help="Answer from the source's graph facts too, not only its visible items.",
    )
    fidelity.add_argument(
        "--no-context", action="store_true", help="Also answer with no context (the lower bound)."
    )
    fidelity.add_argument(
        "--concurrency", type=_positive_int, default=8, help="Jobs the node runs at once."
    )
    fidelity.add_argument(
        "--answer-concurrency", type=_positive_int, default=8, help="Questions asked at once."
    )
    fidelity.add_argument("--max-tokens", type=_positive_int, default=256, help="Per answer.")
    fidelity.add_argument(
        "--timeout", type=float, default=3600, help="Seconds the pipeline may take."
    )
    fidelity.add_argument("--stall-after", type=float, default=180)
    fidelity.add_argument(
        "--resamples", type=_positive_int, default=10_000, help="Bootstrap resamples."
    )
    fidelity.add_argument("--json", action="store_true", help="Print the JSON report.")
    fidelity.add_argument("--output", default="", help="Also write the JSON report here.")
    fidelity.set_defaults(handler=run_fidelity)
