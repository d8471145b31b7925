"""Tool calling with the built-in model through the official `openai` Python client, against a
real `parley dev` (SmolLM2). A required or named call comes back as the client's own `tool_calls`,
whole or streamed, its arguments valid for the tool's schema; `chat.completions.parse` with
`pydantic_function_tool` reads them into the Pydantic model; the calls and the tool's result go
back for the next turn; bad tool fields are refused with the client's exception types.

The parley binary is $PARLEY_BIN (default .build/debug/parley).
"""

import json
import os
import sys

import openai
import pydantic
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402
API_KEY = "pk-openai-tools-test-0123456789ab"
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "description": "The time now"}}


@pytest.fixture(scope="module")
def client():
    with running_parley_dev(API_KEY, prefix="parley-tools-") as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


def check_call(call):
    assert call.type == "function"
    assert call.id.startswith("call_")
    arguments = json.loads(call.function.arguments)
    if call.function.name == "get_weather":
        assert set(arguments) == {"city", "unit"}
        assert isinstance(arguments["city"], str)
        assert arguments["unit"] in ("celsius", "fahrenheit")
    else:
        assert call.function.name == "get_time"
        assert arguments == {}


@pytest.mark.parametrize("temperature", [0, 1.0])
def test_a_required_call_comes_back_as_tool_calls(client, temperature):
    answer = client.chat.completions.create(
        model="smollm2", messages=QUESTION, tools=[WEATHER, TIME], tool_choice="required", temperature=temperature,
        seed=3, max_tokens=300)
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls
    for call in choice.message.tool_calls:
        check_call(call)
    assert len({call.id for call in choice.message.tool_calls}) == len(choice.message.tool_calls)


def test_a_named_call_streams_as_tool_call_deltas(client):
    calls = {}
    finish = None
    for chunk in client.chat.completions.create(
            model="smollm2", messages=QUESTION, tools=[WEATHER, TIME], parallel_tool_calls=False,
            tool_choice={"type": "function", "function": {"name": "get_weather"}}, temperature=0, stream=True):
        choice = chunk.choices[0]
        for delta in choice.delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += delta.id or ""
            entry["name"] += delta.function.name or ""
            entry["arguments"] += delta.function.arguments or ""
        finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert list(calls) == [0]
    assert calls[0]["name"] == "get_weather"
    assert set(json.loads(calls[0]["arguments"])) == {"city", "unit"}


class Forecast(pydantic.BaseModel):
    city: str
    days: int
    hourly: bool


def test_parse_reads_the_arguments_into_a_pydantic_tool(client):
    answer = client.chat.completions.parse(
        model="smollm2", messages=[{"role": "user", "content": "Forecast for Oslo, three days."}],
        tools=[openai.pydantic_function_tool(Forecast)], tool_choice="required", parallel_tool_calls=False,
        temperature=0, max_tokens=200)
    call = answer.choices[0].message.tool_calls[0]
    assert call.function.name == "Forecast"
    assert isinstance(call.function.parsed_arguments, Forecast)


def test_the_calls_and_the_result_go_back_for_the_next_turn(client):
    first = client.chat.completions.create(
        model="smollm2", messages=QUESTION, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False,
        temperature=0)
    message = first.choices[0].message
    call = message.tool_calls[0]
    history = QUESTION + [
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 18, "sky": "sunny"})},
    ]
    second = client.chat.completions.create(
        model="smollm2", messages=history, tools=[WEATHER], tool_choice="none", temperature=0, max_tokens=40)
    choice = second.choices[0]
    assert choice.finish_reason in ("stop", "length")
    assert choice.message.content
    assert not choice.message.tool_calls


def test_bad_tool_fields_are_refused(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="smollm2", messages=QUESTION, tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert refused.value.body["param"] == "tool_choice.function.name"
    strict = {"type": "function", "function": {
        "name": "count", "strict": True,
        "parameters": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}}}
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="smollm2", messages=QUESTION, tools=[strict])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="smollm2", messages=QUESTION + [{"role": "tool", "content": "x"}])
