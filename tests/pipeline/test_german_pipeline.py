"""A German text of several paragraphs (tests/data/german_tdm.txt, written for the project)
through the whole pipeline with a scripted model (issue #25, acceptance 1): its language is
detected and stored, its sentences end where German sentences end ("z. B.", "Dr.", "Nr.",
"§§"), its candidate names are German noun phrases, its facts anchor at exact offsets, its
hypotheses and instruction stay German and pass the German quality gates (bad ones fail
them), German pairs are decided by the merge guards (also through ``alexandria
merge-decide``), and the language filters of /ask and the public search find it."""

import json
from pathlib import Path
from typing import Any

import pytest

from alexandria.cli import main
from alexandria.knowledge.models import Anchor, Entity, Fact, KnowledgeItem
from alexandria.layers.merge_decision import decide_merge
from alexandria.pipeline.models import RejectedItem, SourceProfile
from alexandria.search.services.indexing import rebuild_index
from alexandria.sources.models import Source
from alexandria.textproc.normalize import normalize_text
from alexandria.textproc.segment import split_sentences
from jobkinds import derive, extract_graph, reconstruct
from jobkinds.prompting import SAME_LANGUAGE
from tests.pipeline.documents import attribute, relation
from tests.pipeline.driving import drain, node_payload, submit_document
from tests.pipeline.scripted import ScriptedFact, ScriptedModel, run_with_llm
from tests.search.conftest import search_index  # noqa: F401
from tests.support.anchors import assert_anchors_verify_within_limits

DATA = Path(__file__).resolve().parents[1] / "data"
TITLE = "Text und Data Mining im deutschen Urheberrecht"
TEXT = normalize_text((DATA / "german_tdm.txt").read_text(encoding="utf-8"))
PAIRS = [json.loads(line) for line in (DATA / "german_tdm_pairs.jsonl").read_text().splitlines()]

URHG = {"name": "Urheberrechtsgesetz", "type": "work", "aliases": ["UrhG"]}
TDM = {"name": "Text und Data Mining", "type": "method"}
P44B = {"name": "§ 44b UrhG", "type": "work"}
P60D = {"name": "§ 60d UrhG", "type": "work"}
HOLDER = {"name": "Rechteinhaber", "type": "person"}
RESERVATION = {"name": "Nutzungsvorbehalt", "type": "concept"}
RESEARCH = {"name": "wissenschaftliche Forschung", "type": "concept"}
WEBER = {"name": "Anna Weber", "type": "person"}
INSTITUTE = {"name": "Institut für Rechtsinformatik", "type": "organization"}
DIRECTIVE = {"name": "Richtlinie (EU) 2019/790", "type": "work"}
SURVEY = {"name": "befragten Hochschulen", "type": "organization"}

# Each fact: (trigger in its chunk, fact, entities); the anchor quotes the text exactly.
GRAPH = [
    ScriptedFact(
        "Seit der Reform",
        relation("Urheberrechtsgesetz", "erlaubt", "Text und Data Mining",
                 "erlaubt das Urheberrechtsgesetz (UrhG) das Text und Data Mining ausdrücklich"),
        [URHG, TDM],
    ),
    ScriptedFact(
        "Nach §§ 44b",
        attribute("Text und Data Mining", "gewinnt aus Werken", "Muster, Trends und Korrelationen",
                  "um daraus Muster, Trends und Korrelationen zu gewinnen"),
        [TDM],
    ),
    ScriptedFact(
        "gilt für jedermann",
        attribute("§ 44b UrhG", "gilt auch für", "Unternehmen",
                  "Die Erlaubnis des § 44b UrhG gilt für jedermann, also auch für Unternehmen"),
        [P44B],
    ),
    ScriptedFact(
        "kann die Nutzung",
        relation("Rechteinhaber", "erklärt", "Nutzungsvorbehalt",
                 "wenn er einen Nutzungsvorbehalt in maschinenlesbarer Form erklärt"),
        [HOLDER, RESERVATION],
    ),
    ScriptedFact(
        "privilegiert",
        relation("§ 60d UrhG", "privilegiert", "wissenschaftliche Forschung",
                 "Die Vorschrift des § 60d UrhG privilegiert die wissenschaftliche Forschung"),
        [P60D, RESEARCH],
    ),
    ScriptedFact(
        "gilt hier nicht",
        attribute("Nutzungsvorbehalt", "gilt bei der Forschung", "nicht",
                  "Ein Nutzungsvorbehalt des Rechteinhabers gilt hier nicht"),
        [RESERVATION],
    ),
    ScriptedFact(
        "Dr. Anna Weber",
        relation("Anna Weber", "forscht am", "Institut für Rechtsinformatik",
                 "Dr. Anna Weber vom Institut für Rechtsinformatik in Hannover"),
        [WEBER, INSTITUTE],
    ),
    ScriptedFact(
        "Zuerst prüft",
        attribute("Korpus", "prüft zuerst", "Zugang zu den Texten",
                  "Zuerst prüft man, ob der Zugang zu den Texten rechtmäßig ist"),
        [{"name": "Korpus", "type": "concept"}],
    ),
    ScriptedFact(
        "laufenden Nr.",
        attribute("Korpus", "dokumentiert", "jede Quelle mit einer laufenden Nr.",
                  "dokumentiert man jede Quelle mit einer laufenden Nr. in einer Liste"),
        [{"name": "Korpus", "type": "concept"}],
    ),
    ScriptedFact(
        "42 Prozent",
        attribute("befragten Hochschulen", "nutzen Text und Data Mining zu", "42 Prozent",
                  "nutzen 42 Prozent der befragten Hochschulen das Text und Data Mining"),
        [SURVEY],
    ),
    ScriptedFact(
        "Richtlinie (EU)",
        relation("Urheberrechtsgesetz", "setzt um", "Richtlinie (EU) 2019/790",
                 "Grundlage beider Vorschriften ist die Richtlinie (EU) 2019/790"),
        [URHG, DIRECTIVE],
    ),
]  # fmt: skip

CLAIM_TDM = "Das Urheberrechtsgesetz erlaubt das Text und Data Mining an zugänglichen Werken."
CLAIM_RESEARCH = (
    "Für die wissenschaftliche Forschung gilt kein Nutzungsvorbehalt des Rechteinhabers."
)
GOAL = "Ein Korpus für ein Forschungsprojekt rechtssicher aufbauen"
STEPS = [
    "Den rechtmäßigen Zugang zu den Texten prüfen.",
    "Jede Quelle mit einer laufenden Nummer in einer Liste dokumentieren.",
]
# German items the German gates must refuse: a question and a claim cut off mid-sentence.
QUESTION = "Ist das Text und Data Mining nach dem Urheberrechtsgesetz erlaubt?"
TRUNCATED = "Die Kopien des Text und Data Mining sind zu löschen, sobald sie für das"


class GermanModel(ScriptedModel):
    """Answers as a careful model answers a German document: in German, citing the facts each
    item rests on (found by their subject and predicate)."""

    def _derive(self, data: dict[str, Any]) -> dict[str, Any]:
        ids = {(f["subject"], f["predicate"]): f["anchor_id"] for f in data["facts"]}

        def cite(*keys: tuple[str, str]) -> list[int]:
            return [ids[key] for key in keys]

        tdm = cite(
            ("Urheberrechtsgesetz", "erlaubt"), ("Text und Data Mining", "gewinnt aus Werken")
        )
        return {
            "hypotheses": [
                {"claim": CLAIM_TDM, "stance": "supports", "evidence": tdm, "confidence": 0.8},
                {
                    "claim": CLAIM_RESEARCH,
                    "stance": "supports",
                    "evidence": cite(
                        ("§ 60d UrhG", "privilegiert"),
                        ("Nutzungsvorbehalt", "gilt bei der Forschung"),
                    ),
                    "confidence": 0.7,
                },
                {"claim": QUESTION, "stance": "neutral", "evidence": tdm, "confidence": 0.5},
                {"claim": TRUNCATED, "stance": "neutral", "evidence": tdm, "confidence": 0.5},
            ],
            "instructions": [
                {
                    "goal": GOAL,
                    "prerequisites": ["eine Liste der Quellen"],
                    "steps": STEPS,
                    "evidence": cite(("Korpus", "prüft zuerst"), ("Korpus", "dokumentiert")),
                }
            ],
        }

    def _describe(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "genre": "Fachartikel",
            "category": "Recht",
            "keywords": ["urheberrecht", "text und data mining"],
            "summary": "Der Text erklärt, wann das Urheberrecht das Text und Data Mining erlaubt.",
        }


def test_the_prompts_that_write_text_keep_the_facts_language():
    assert "never translate" in extract_graph.SYSTEM_PROMPT
    assert SAME_LANGUAGE in derive.SYSTEM_PROMPT
    assert SAME_LANGUAGE in reconstruct.SYSTEM_PROMPT


@pytest.mark.django_db(transaction=True)
def test_a_german_text_goes_through_the_pipeline(
    member,
    node,
    fake_openai,
    bot_client,
    anonymous_client,
    search_index,  # noqa: F811
):
    fake_openai.responder = GermanModel(facts=GRAPH)
    source = submit_document(TEXT, TITLE, member)

    # Detected at ingestion and stored; sentences end where German ones end.
    assert source.language == "de"
    sentences = [s.of(TEXT) for s in split_sentences(TEXT)]
    assert len(sentences) == 16
    assert "Gemeint sind z. B. Zeitungsartikel, wissenschaftliche Aufsätze oder Webseiten." in (
        sentences
    )
    assert any(s.startswith("Dr. Anna Weber vom Institut") for s in sentences)
    assert any(s.endswith("mit einer laufenden Nr. in einer Liste.") for s in sentences)
    assert any(s.startswith("Nach §§ 44b und 60d UrhG dürfen") for s in sentences)

    # The graph jobs carry the language and German candidate names for constrained decoding:
    # noun phrases of the chunk, statute provisions whole, no sentence adverbs.
    graph_jobs = list(source.jobs.filter(kind="extract_graph").order_by("id"))
    assert len(graph_jobs) == source.chunks.count() >= 4
    payloads = [node_payload(job) for job in graph_jobs]
    assert {p["language"] for p in payloads} == {"de"}
    names = [name for p in payloads for name in p["entity_candidates"]]
    for expected in ("Urheberrechtsgesetz", "§ 44b UrhG", "§ 60d UrhG", "Nutzungsvorbehalt",
                     "wissenschaftliche Forschung", "Anna Weber", "Rechteinhaber"):  # fmt: skip
        assert expected in names, expected
    assert not {"Schließlich", "Zuerst", "Danach", "Seit", "Die"} & set(names)
    assert all(name in TEXT for name in names)

    produce = lambda kind, payload: run_with_llm(fake_openai.base_url, kind, payload)  # noqa: E731
    assert drain(node, produce) >= len(graph_jobs) + 4
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSED and source.is_purged

    # German entities, every fact anchored at the exact offsets of its quote.
    entities = set(Entity.objects.filter(source=source).values_list("name", flat=True))
    assert {URHG["name"], TDM["name"], P44B["name"], P60D["name"], WEBER["name"]} <= entities
    facts = list(Fact.objects.filter(source=source).select_related("anchor"))
    assert len(facts) == len(GRAPH)
    quotes = {scripted.fact["anchor"] for scripted in GRAPH}
    assert {TEXT[f.anchor.start : f.anchor.end] for f in facts} == quotes
    assert (
        assert_anchors_verify_within_limits(source, TEXT)
        == Anchor.objects.filter(source=source).count()
    )

    # German items, stored and supported; the German gates refused the question and the
    # truncated claim.
    items = KnowledgeItem.objects.filter(job__source=source)
    hypotheses = set(items.filter(kind="hypothesis").values_list("text", flat=True))
    assert hypotheses == {CLAIM_TDM, CLAIM_RESEARCH}
    (instruction,) = items.filter(kind="instruction")
    assert (instruction.text, instruction.details["steps"]) == (GOAL, STEPS)
    assert set(items.values_list("support", flat=True)) == {KnowledgeItem.Support.SUPPORTED}
    rejected = dict(RejectedItem.objects.filter(job__source=source).values_list("index", "reason"))
    assert rejected == {2: "question", 3: "truncated"}
    # The second quote the model cited (what mining yields) does not bear on the claim that the
    # law permits it, and shares no word with it: the support pre-filter drops it.
    tdm_item = items.get(text=CLAIM_TDM)
    cited = {TEXT[a.start : a.end] for a in tdm_item.anchors.all()}
    assert cited == {GRAPH[0].fact["anchor"]}

    profile = SourceProfile.objects.get(source=source)
    assert profile.keywords == ["urheberrecht", "text und data mining"]
    assert profile.reconstruction.startswith("Urheberrechtsgesetz erlaubt Text und Data Mining.")

    # The language is a filter of the member /ask and of the public search.
    rebuild_index(search_index)
    question = {"q": "Ist Text und Data Mining nach dem Urheberrecht erlaubt?"}
    asked = {**question, "min_status": "pending", "summary": "false"}
    found = bot_client.get("/api/v1/ask", {**asked, "language": "de"}).json()["results"]
    assert found and found[0]["item"]["text"] == CLAIM_TDM
    assert bot_client.get("/api/v1/ask", {**asked, "language": "en"}).json()["results"] == []
    public = {**question, "min_status": "pending"}
    found = anonymous_client.get("/api/v1/public/search", {**public, "language": "de"}).json()
    assert found["results"][0]["item"]["text"] == CLAIM_TDM
    found = anonymous_client.get("/api/v1/public/search", {**public, "language": "en"}).json()
    assert found["results"] == []
    shown = anonymous_client.get(f"/api/v1/public/sources/{source.pk}").json()
    assert shown["language"] == "de"


@pytest.mark.parametrize("row", PAIRS, ids=lambda row: f"{row['id']}-{row['class']}")
def test_german_pairs_about_the_text_are_decided_by_the_guards(row):
    """Text only (similarity taken as 1): each look-alike kept apart by the guard of its class."""
    decision = decide_merge(row["a"], row["b"], row["kind"], 1.0, recall=0.8)
    if row["label"] == "same":
        assert decision.decision != "apart", (row, decision)
    else:
        assert (decision.decision, decision.reason) == ("apart", row["class"]), decision


def test_merge_decide_decides_the_german_pairs(db, tmp_path, capsys):
    """The CLI, with the real embedder: look-alikes apart by their guard, paraphrases merged
    or sent to a vote, equal texts merged."""
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in PAIRS) + "\n")
    assert main(["merge-decide", str(path)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(printed) == len(PAIRS)
    for row, decided in zip(PAIRS, printed, strict=True):
        if row["class"] == "equal":
            assert (decided["decision"], decided["reason"]) == ("merge", "normalised_equal")
        elif row["label"] == "same":
            assert decided["decision"] == "verify", (row, decided)
        else:
            assert (decided["decision"], decided["reason"]) == ("apart", row["class"]), decided
