"""Dataset releases: loadable Parquet in the Hugging Face layout, checksummed, diffs that rebuild
the next full snapshot exactly, slices, and nothing hidden, taken down or purged in any file."""

import hashlib
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from django.utils import timezone

from alexandria.cli import main
from alexandria.core.beat import BEAT_SCHEDULE, NOT_IN_PROCESS
from alexandria.core.tasking import Task, registered
from alexandria.knowledge.models import KnowledgeItem
from alexandria.knowledge.services import hide_item
from alexandria.layers.services.merging import merge_items
from alexandria.pipeline.models import SourceProfile
from alexandria.releases.models import Release
from alexandria.releases.schema import CONFIGS, RECORDS
from alexandria.releases.selectors import Slice
from alexandria.releases.services import ReleaseNotClean, ReleaseRefused, write_release
from alexandria.releases.snapshots import apply_diff, read_snapshot
from alexandria.retention.takedowns import take_down
from alexandria.search.models import StanceVerdict
from alexandria.sources.fingerprints import store_fingerprint
from alexandria.sources.models import Source, Takedown
from alexandria.sources.services import purge_source_text
from tests.support.anchors import anchor_on

# Loading a local folder must never reach the Hub.
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"

BEES = (
    "Honey bees tell their sisters where food is with a waggle dance performed on the comb. "
    "The angle of the dance shows the direction of the flowers relative to the sun, and the "
    "length of the waggle run tells the distance to the flowers that the forager visited."
)
TIDES = (
    "Die Gezeiten entstehen durch die Anziehung des Mondes und der Sonne auf die Ozeane. "
    "Springtiden treten bei Neumond und Vollmond auf, wenn Sonne und Mond in einer Linie stehen."
)
SECRETS = (
    "A confidential report on the Quillfeather lighthouse says that its keeper rebuilt the "
    "lantern in the winter of 1911 after a storm shattered every pane of its glass."
)
HIDDEN_TEXT = "Quillfeather keepers were paid in salted herring."
TAKEN_DOWN_TITLE = "The Quillfeather lighthouse report"


def source(text, *, title, url, language, genre) -> Source:
    created = Source.objects.create(
        title=title,
        url=url,
        language=language,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        char_count=len(text),
        byte_size=len(text.encode()),
        text=text,
        status=Source.Status.ANALYSED,
        licence_note="CC BY 4.0",
    )
    SourceProfile.objects.create(source=created, genre=genre, age_rating=0)
    return created


def item(text, *, anchors=(), status="accepted", layer=1, derived_from=(), kind="hypothesis"):
    created = KnowledgeItem.objects.create(kind=kind, layer=layer, text=text, status=status)
    created.anchors.set(anchors)
    created.derived_from.set(derived_from)
    return created


@pytest.fixture
def world(db, settings, tmp_path):
    settings.RELEASES_ROOT = tmp_path / "releases"
    bees = source(BEES, title="On bees", url="https://bees.example.org/dance", language="en",
                  genre="science")  # fmt: skip
    tides = source(TIDES, title="Gezeiten", url="https://meer.example.de/gezeiten",
                   language="de", genre="essay")  # fmt: skip
    secret = source(SECRETS, title=TAKEN_DOWN_TITLE, url="https://quill.example.net/report",
                    language="en", genre="science")  # fmt: skip
    dance = anchor_on(bees, "The angle of the dance shows the direction")
    sun = anchor_on(tides, "Springtiden treten bei Neumond und Vollmond auf")
    lantern = anchor_on(secret, "its keeper rebuilt the lantern in the winter of 1911")
    w = {
        "bees": bees,
        "tides": tides,
        "secret": secret,
        "dance": item("Bees show the direction of food by dancing.", anchors=[dance]),
        "again": item("Bees show where food is by dancing.", anchors=[dance]),
        "tide": item("Spring tides happen at new and full moon.", anchors=[sun]),
        "lamp": item("The Quillfeather lantern was rebuilt in 1911.", anchors=[lantern]),
        "hidden": item(HIDDEN_TEXT, anchors=[lantern]),
        "pending": item("Bees may dance at night.", anchors=[dance], status="pending"),
    }
    w["abstract"] = item(
        "Animals and the sky: bees and tides follow the sun.",
        layer=2,
        derived_from=[w["dance"], w["tide"]],
    )
    StanceVerdict.objects.create(
        claim=w["dance"], other=w["again"], relation="supports", decided_at=timezone.now()
    )
    return w


def files_text(release: Path) -> str:
    """Every string a release holds: each Parquet value (decompressed), card and manifest."""
    parts = [(release / "README.md").read_text(), (release / "manifest.json").read_text()]
    for path in release.rglob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            parts.extend(
                json.dumps(value, default=str, ensure_ascii=False) for value in row.values()
            )
    return "\n".join(parts)


def ids(release: Path, config: str) -> set:
    return set(read_snapshot(release)[config]["id"].to_pylist())


def test_a_release_loads_verifies_and_holds_only_accepted_visible_items(world):
    hide_item(world["hidden"], "moderator: not in the source")
    release = write_release()
    path = Path(release.path)

    items = pq.read_table(path / "data/items")
    assert set(items["id"].to_pylist()) == {
        world[k].pk for k in ("dance", "again", "tide", "lamp", "abstract")
    }
    assert set(items["status"].to_pylist()) == {"accepted"}
    assert set(items["release_id"].to_pylist()) == {release.release_id}
    abstract = next(r for r in items.to_pylist() if r["id"] == world["abstract"].pk)
    assert abstract["derived_from"] == sorted([world["dance"].pk, world["tide"].pk])
    assert abstract["source_ids"] == sorted([world["bees"].pk, world["tides"].pk])
    sources = pq.read_table(path / "data/sources").to_pylist()
    assert {s["id"] for s in sources} == {world[k].pk for k in ("bees", "tides", "secret")}
    assert "text" not in pq.read_schema(next((path / "data/sources").glob("*.parquet"))).names
    assert ids(path, "relations") == {
        f"derived_from:{world['abstract'].pk}:{world['dance'].pk}",
        f"derived_from:{world['abstract'].pk}:{world['tide'].pk}",
        f"supports:{world['again'].pk}:{world['dance'].pk}",
    }
    assert HIDDEN_TEXT not in files_text(path)
    assert "Bees may dance at night." not in files_text(path)

    # Hugging Face layout, manifest checksums and row counts.
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["release_id"] == release.release_id
    manifest_bytes = (path / "manifest.json").read_bytes()
    assert release.manifest_sha256 == hashlib.sha256(manifest_bytes).hexdigest()
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}
    assert listed == on_disk - {"manifest.json"}
    for entry in manifest["files"]:
        data = (path / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
        if entry["path"].endswith(".parquet"):
            assert pq.ParquetFile(path / entry["path"]).metadata.num_rows == entry["rows"]
    for config in CONFIGS:
        (shard,) = (path / "data" / config.name).glob("*.parquet")
        assert shard.name == "train-00000-of-00001.parquet"

    # The card's YAML parses, names every config and its files.
    card = (path / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["license"] == "cc-by-4.0"
    assert [c["config_name"] for c in header["configs"]] == [c.name for c in CONFIGS]
    for entry in header["dataset_info"]:
        rows = manifest["configs"][entry["config_name"]]["rows"]
        assert entry["splits"][0]["num_examples"] == rows


def test_datasets_loads_each_config_offline(world, tmp_path):
    import datasets  # dev extra only; heavy import

    path = Path(write_release().path)
    items = datasets.load_dataset(
        "parquet", data_dir=str(path / "data/items"), cache_dir=str(tmp_path / "hf")
    )["train"]
    assert sorted(items["id"]) == sorted(ids(path, "items"))
    # The repository layout: the card's configs and features, as the Hub would read them.
    for config in RECORDS:
        loaded = datasets.load_dataset(str(path), config.name, cache_dir=str(tmp_path / "hf"))
        assert loaded["train"].num_rows == len(ids(path, config.name))


def test_a_diff_applied_to_the_previous_snapshot_is_the_next_full_snapshot(world, tmp_path):
    first = write_release()
    hide_item(world["lamp"], "moderator")
    merge_items(world["dance"].pk, world["again"].pk, similarity=0.93, method="guard")
    world["tide"].text = "Spring tides come at new moon and at full moon."
    world["tide"].save()
    added = item("Bees dance on the comb.", anchors=[anchor_on(world["bees"], "waggle dance")])
    later = timezone.now()
    diff = write_release(diff=True, now=later)
    assert diff.previous == first
    counts = diff.counts["items"]
    assert (counts["added"], counts["updated"], counts["deleted"]) == (1, 2, 2)
    deletions = pq.read_table(Path(diff.path) / "data/deletions").to_pylist()
    reasons = {(d["config"], d["id"]): d["reason"] for d in deletions}
    assert reasons[("items", str(world["lamp"].pk))] == "moderation"
    assert reasons[("items", str(world["again"].pk))] == "merged"

    # The full snapshot of the same moment (same id: the diff's register entry set aside).
    Release.objects.filter(pk=diff.pk).delete()
    full = write_release(now=later, out=tmp_path / "full")
    assert full.release_id == diff.release_id
    rebuilt = apply_diff(read_snapshot(Path(first.path)), Path(diff.path))
    expected = read_snapshot(Path(full.path))
    for config in RECORDS:
        assert rebuilt[config.name].to_pylist() == expected[config.name].to_pylist(), config.name
    assert added.pk in ids(Path(full.path), "items")
    unchanged = next(r for r in expected["items"].to_pylist() if r["id"] == world["abstract"].pk)
    assert unchanged["release_id"] == first.release_id  # versions survive unchanged records


def test_taken_down_hidden_and_purged_never_appear(world):
    write_release()
    store_fingerprint(world["bees"])
    purge_source_text(world["bees"])
    hide_item(world["hidden"], "moderator")
    take_down(Takedown.Scope.SOURCE, str(world["secret"].pk), reason="publisher", by=None)
    release = write_release()
    path = Path(release.path)
    everything = files_text(path)
    for gone in (TAKEN_DOWN_TITLE, "quill.example.net", "Quillfeather", HIDDEN_TEXT):
        assert gone not in everything
    for sentence in BEES.split(". "):
        assert sentence not in everything  # anchors keep a few words of each end, no more
    deletions = pq.read_table(path / "data/deletions").to_pylist()
    reasons = {(d["config"], d["id"]): d["reason"] for d in deletions}
    assert reasons[("sources", str(world["secret"].pk))] == "takedown"
    assert reasons[("items", str(world["lamp"].pk))] == "takedown"
    assert world["secret"].pk not in ids(path, "sources")

    # The retention audit's verbatim check ran on the release before it was published, and
    # refuses one that copies a purged source (an item stored past the copy gate).
    item(BEES.split(". ")[1], anchors=[anchor_on(world["tides"], "Springtiden treten")])
    before = set(Path(release.path).parent.iterdir())
    with pytest.raises(ReleaseNotClean, match="purged source"):
        write_release()
    assert set(Path(release.path).parent.iterdir()) == before


def test_slices_by_genre_language_and_domain(world):
    def released(**filters):
        return ids(Path(write_release(Slice(**filters)).path), "items")

    bees = {world[k].pk for k in ("dance", "again", "abstract")}
    lighthouse = {world[k].pk for k in ("lamp", "hidden")}  # nothing hidden in this test
    assert released(genre="science") == bees | lighthouse
    assert released(language="de") == {world["tide"].pk, world["abstract"].pk}
    assert released(domain="example.org") == bees
    german = Release.objects.get(slice={"language": "de"})
    assert ids(Path(german.path), "sources") == {world["tides"].pk}
    assert german.release_id.endswith("language-de")


def test_cli_beat_and_the_pending_flag(world, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["release", "--diff", "--out", str(out), "--no-progress"]) == 2
    assert "write a full release first" in capsys.readouterr().err
    assert main(["release", "--out", str(out), "--no-progress", "--include-pending"]) == 0
    printed = capsys.readouterr().out
    (release,) = Release.objects.all()
    assert release.path in printed and "items 7" in printed
    assert (
        "pending items, which no reviewer has checked"
        in (Path(release.path) / "README.md").read_text()
    )

    assert "write-release" in NOT_IN_PROCESS
    (entry,) = [e for e in BEAT_SCHEDULE.values() if e["task"] == Task.WRITE_RELEASE.value]
    assert entry["schedule"].day_of_week == {0}
    registered(Task.WRITE_RELEASE).apply(throw=True)  # the unfiltered series: none yet, full
    registered(Task.WRITE_RELEASE).apply(throw=True)  # then a diff
    kinds = [r.kind for r in Release.objects.filter(slice={}).order_by("created_at", "id")]
    assert kinds == ["full", "diff"]


def test_a_diff_without_a_previous_release_is_refused(world):
    with pytest.raises(ReleaseRefused):
        write_release(diff=True)
