"""The built-in model's OpenAI extras through the official `openai` Python client, against a real
`parley dev` (SmolLM2). Logprobs: the client parses every item, the tokens spell the answer, greedy
decoding picks the likeliest token, the probabilities are a distribution, and streaming gives the
same. JSON mode: answers, streamed or whole, greedy or sampled, are JSON objects. Structured
outputs: the client's own `parse` with a Pydantic model (nested models become `$ref`s) gets an
answer that validates.

The parley binary is $PARLEY_BIN (default .build/debug/parley).
"""

import json
import math
import os
import sys

import openai
import pydantic
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402
API_KEY = "pk-openai-logprobs-test-0123456789"
QUESTION = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture(scope="module")
def client():
    with running_parley_dev(API_KEY, prefix="parley-builtin-") as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


def check_items(items, text, top):
    assert items, "no logprobs items"
    assert b"".join(bytes(item.bytes) for item in items).decode() == text
    for item in items:
        assert item.logprob <= 0
        assert len(item.top_logprobs) == top
        # Greedy: the chosen token is the likeliest.
        assert item.top_logprobs[0].token == item.token
        assert item.top_logprobs[0].logprob == item.logprob
        assert [t.logprob for t in item.top_logprobs] == sorted((t.logprob for t in item.top_logprobs), reverse=True)
        assert sum(math.exp(t.logprob) for t in item.top_logprobs) <= 1.0001


def test_a_whole_answer_carries_the_logprobs_of_its_tokens(client):
    answer = client.chat.completions.create(
        model="smollm2", messages=QUESTION, max_tokens=24, temperature=0, logprobs=True, top_logprobs=4)
    choice = answer.choices[0]
    check_items(choice.logprobs.content, choice.message.content, 4)
    assert len(choice.logprobs.content) <= answer.usage.completion_tokens


def test_a_stream_carries_them_chunk_by_chunk_and_agrees_with_the_whole_answer(client):
    whole = client.chat.completions.create(
        model="smollm2", messages=QUESTION, max_tokens=24, temperature=0, logprobs=True, top_logprobs=2)
    text, items = "", []
    for chunk in client.chat.completions.create(
            model="smollm2", messages=QUESTION, max_tokens=24, temperature=0, logprobs=True, top_logprobs=2,
            stream=True):
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        text += choice.delta.content or ""
        if choice.logprobs is not None:
            items += choice.logprobs.content
    assert text == whole.choices[0].message.content
    check_items(items, text, 2)
    assert [i.token for i in items] == [i.token for i in whole.choices[0].logprobs.content]
    for ours, theirs in zip(items, whole.choices[0].logprobs.content):
        assert abs(ours.logprob - theirs.logprob) < 1e-3


def test_without_logprobs_there_are_none_and_bad_values_are_named(client):
    plain = client.chat.completions.create(model="smollm2", messages=QUESTION, max_tokens=4, temperature=0)
    assert plain.choices[0].logprobs is None
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model="smollm2", messages=QUESTION, max_tokens=4, logprobs=True, top_logprobs=21)
    assert "top_logprobs" in str(raised.value)


@pytest.mark.parametrize("temperature", [0, 1.0])
def test_json_mode_answers_are_json_objects(client, temperature):
    question = [{"role": "user", "content": "Give me a JSON object describing a cat: name, colour, age."}]
    whole = client.chat.completions.create(
        model="smollm2", messages=question, temperature=temperature, seed=11, max_tokens=400,
        response_format={"type": "json_object"})
    assert whole.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(whole.choices[0].message.content), dict)
    text = ""
    for chunk in client.chat.completions.create(
            model="smollm2", messages=question, temperature=temperature, seed=11, max_tokens=400,
            response_format={"type": "json_object"}, stream=True):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    assert isinstance(json.loads(text), dict)


class Toy(pydantic.BaseModel):
    name: str
    squeaks: bool


class Cat(pydantic.BaseModel):
    name: str
    age: int
    colour: str
    toys: list[Toy]


# Greedy, the tiny model lists the same toy until max_tokens: a frequency penalty breaks the loop.
@pytest.mark.parametrize("temperature,penalty", [(0, 0.5), (1.0, 0)])
def test_structured_outputs_follow_a_pydantic_model(client, temperature, penalty):
    answer = client.chat.completions.parse(
        model="smollm2", messages=[{"role": "user", "content": "Describe a cat and its toys."}],
        temperature=temperature, frequency_penalty=penalty, seed=5, max_tokens=400, response_format=Cat)
    choice = answer.choices[0]
    assert choice.finish_reason == "stop", choice.message.content
    cat = choice.message.parsed
    assert isinstance(cat, Cat) and isinstance(cat.age, int)
    assert all(isinstance(toy, Toy) for toy in cat.toys)


def test_a_schema_parley_cannot_enforce_is_refused_not_ignored(client):
    schema = {"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}}
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client.chat.completions.create(
            model="smollm2", messages=QUESTION, max_tokens=4,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
    assert "minimum" in str(raised.value)
