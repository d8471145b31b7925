"""Gemma 3 on the built-in engine, through the official `openai` Python client against a real
`parley dev --model gemma3-270m,synthetic` (Google's 270M base model, fetched on first use, beside
the synthetic model on the same node): both are listed and each answers as itself, a chat is laid out in Gemma's format (the system message before the first turn's text, BOS
first) and streams token by token to its length limit, and logprobs spell the answer in Gemma's
262,144-token vocabulary.

The parley binary is $PARLEY_BIN (default .build/debug/parley).
"""

import os
import sys
import time

import openai
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402
API_KEY = "pk-openai-gemma-test-0123456789"


@pytest.fixture(scope="module")
def client():
    # Two models side by side on one model node (one engine each): Gemma and the synthetic model.
    args = ["--model", "gemma3-270m,synthetic", "--synthetic-ttft", "5", "--synthetic-tps", "500"]
    with running_parley_dev(API_KEY, *args, prefix="parley-gemma-") as url:
        c = openai.OpenAI(base_url=url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)
        # Ready means a chat can be answered; the larger model may still be loading then.
        deadline = time.monotonic() + 60
        while len(list(c.models.list())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield c


def test_both_models_are_listed_and_each_answers_as_itself(client):
    models = {model.id: model for model in client.models.list()}
    assert sorted(models) == ["gemma3-270m", "synthetic"]
    assert models["gemma3-270m"].model_extra.get("context_length") == 32768
    for name in models:
        answer = client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0)
        assert answer.model == name and answer.usage.completion_tokens == 4


def test_a_chat_is_laid_out_in_gemmas_format_and_streams_to_its_limit(client):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    # <bos> <start_of_turn> user \n Be ·brief . \n\n Hi <end_of_turn> \n <start_of_turn> model \n
    stream = client.chat.completions.create(
        model="gemma3-270m", messages=messages, max_tokens=12, temperature=0, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    usage = chunks[-1].usage
    assert usage.prompt_tokens == 14
    assert finish == ["length"] and usage.completion_tokens == 12 and text


def test_logprobs_spell_the_answer_in_gemmas_vocabulary(client):
    answer = client.chat.completions.create(
        model="gemma3-270m", messages=[{"role": "user", "content": "Écris 東京 ☕"}], max_tokens=10,
        temperature=0, logprobs=True, top_logprobs=3)
    choice = answer.choices[0]
    items = choice.logprobs.content
    assert items and b"".join(bytes(item.bytes) for item in items).decode() == choice.message.content
    for item in items:
        assert item.top_logprobs[0].token == item.token and item.logprob <= 0
