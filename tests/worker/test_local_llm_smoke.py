"""--local for real: the bundled SmolLM2-135M behind llama.cpp's server (CPU, a few seconds)."""

import asyncio
import importlib.util

import openai
import pytest

from tests.worker.conftest import TOKEN
from tests.worker.echo_kind import ECHO_SUMMARY
from worker.local_llm import LOCAL_MODEL_NAME, bundled_model_path, start_local_model

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed (pip install 'alexandria[local-llm]')",
)


def test_bundled_model_answers_a_chat_completion():
    assert bundled_model_path().suffix == ".gguf"
    server = start_local_model()
    try:

        async def ask():
            client = openai.AsyncOpenAI(base_url=server.base_url, api_key="none")
            try:
                return await client.chat.completions.create(
                    model=LOCAL_MODEL_NAME,
                    messages=[{"role": "user", "content": "Say hello."}],
                    max_tokens=16,
                )
            finally:
                await client.close()

        completion = asyncio.run(ask())
    finally:
        server.stop()
    assert completion.choices[0].message.content.strip()
    assert completion.usage.completion_tokens > 0
    assert server.process.poll() is not None


def test_worker_runs_a_job_on_the_bundled_model(fake_backend, start_worker):
    fake_backend.lease_seconds = 30
    job_id = fake_backend.add_job("echo_summary", {"text": "The cat sat on the mat."})
    process = start_worker("--server", fake_backend.url, "--token", TOKEN, "--local", "--once")
    output, _ = process.communicate(timeout=240)
    assert process.returncode == 0, output
    assert f"LLM {LOCAL_MODEL_NAME}" in output
    job = fake_backend.jobs[job_id]
    # llama.cpp refuses json_schema, so this also proves the fallback to its schema-constrained
    # json_object, which keeps even a 135M model inside the output schema.
    assert job.status == "done", fake_backend.jobs[job_id].errors
    assert job.stats["model"] == LOCAL_MODEL_NAME and job.stats["completion_tokens"] > 0
    assert ECHO_SUMMARY.output_errors(job.output) == []
