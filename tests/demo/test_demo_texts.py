"""``alexandria demo --texts DIR``: which files it runs on, and a clear exit 2 for a directory
it cannot run on (checked before anything starts; no model runs here)."""

from pathlib import Path

import alexandria.demo as demo
from alexandria.cli import main
from alexandria.demo.texts import TEXT_TYPES, demo_texts
from alexandria.textproc.extract import extract_text

OWN_TEXTS = Path(__file__).resolve().parents[1] / "data" / "demo_texts"


def test_finds_the_readable_files_of_the_directory(tmp_path):
    for name in ("b.md", "a.txt", "c.html", "d.pdf", "notes.docx", "image.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.md").mkdir()  # a directory, whatever its name
    found = [path.name for path in demo_texts(str(tmp_path))]
    assert found == ["a.txt", "b.md", "c.html", "d.pdf"]


def test_without_texts_the_bundled_samples_run():
    samples = demo_texts(None)
    assert samples and all(path.suffix == ".md" for path in samples)


def test_the_projects_own_texts_extract_to_scientific_prose():
    texts = demo_texts(str(OWN_TEXTS))
    assert len(texts) == 3 and {path.suffix for path in texts} == {".md", ".txt", ".html"}
    for path in texts:
        text = extract_text(
            path.read_bytes(), content_type=TEXT_TYPES[path.suffix], filename=path.name
        ).text
        assert len(text.split()) > 200, path.name
        assert "<p>" not in text and "et al." in text


def test_a_missing_directory_exits_2_with_the_reason(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["demo", "--texts", str(missing), "--question", "q?"]) == 2
    assert f"--texts {missing}: no such directory" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()


def test_a_directory_without_texts_exits_2(tmp_path, capsys):
    (tmp_path / "slides.pptx").write_bytes(b"x")
    assert main(["demo", "--texts", str(tmp_path), "--question", "q?"]) == 2
    assert "no .htm/.html/.md/.pdf/.txt files in it" in capsys.readouterr().err


def test_own_texts_need_a_question(capsys):
    assert main(["demo", "--texts", str(OWN_TEXTS)]) == 2
    assert "--texts needs --question" in capsys.readouterr().err


def test_ctrl_c_ends_the_demo_with_a_message_not_a_traceback(monkeypatch, capsys):
    def interrupted(args, texts):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "_run_demo", interrupted)
    assert main(["demo", "--texts", str(OWN_TEXTS), "--question", "q?"]) == 130
    out = capsys.readouterr().out
    assert "interrupted: the node and the API server are stopped" in out
    assert "Traceback" not in out
