"""A small llm kind for the worker's tests, so they don't depend on the pipeline's kinds."""

from jobkinds import JobKind, register

ECHO_SUMMARY = JobKind(
    name="echo_summary",
    version="1",
    runner="llm",
    system_prompt="Summarise the text in one sentence and count its words.",
    input_schema={
        "type": "object",
        "required": ["text"],
        "properties": {"text": {"type": "string"}},
    },
    output_schema={
        "type": "object",
        "required": ["summary", "words"],
        "additionalProperties": False,
        "properties": {
            "summary": {"type": "string", "minLength": 1},
            "words": {"type": "integer", "minimum": 0},
        },
    },
)

register(ECHO_SUMMARY)


def valid_reply(request: dict) -> str:
    """A fake-LLM responder that answers every echo_summary request correctly."""
    text = request["messages"][-1]["content"]
    return f'{{"summary": "ok", "words": {len(text.split())}}}'
