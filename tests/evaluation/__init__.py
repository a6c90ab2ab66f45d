from pathlib import Path

# Two texts written for the project, three questions each (the format's example in README).
QUESTIONS = Path(__file__).resolve().parents[1] / "data" / "fidelity_questions.jsonl"
