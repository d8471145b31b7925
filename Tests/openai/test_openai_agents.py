"""The OpenAI Agents SDK (`openai-agents`, from PyPI) against a real `parley dev --model synthetic`,
through Parley's Responses API: an agent whose first turn must call its function tool gets the
call, runs the tool, sends the result back and finishes with the model's text, run whole and
streamed. The synthetic model makes a required call with arguments its tool's schema allows and
never calls on its own, so the run is deterministic: call, result, answer.

The parley binary is $PARLEY_BIN (default .build/debug/parley).
"""

import asyncio
import json
import os
import sys
import urllib.request

import agents
import pytest
from openai import AsyncOpenAI

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402
API_KEY = "pk-openai-agents-test-012345678"

agents.set_tracing_disabled(True)


@pytest.fixture(scope="module")
def url():
    args = ["--model", "synthetic", "--synthetic-ttft", "5", "--synthetic-tps", "500"]
    with running_parley_dev(API_KEY, *args, prefix="parley-agents-") as url:
        yield url


def weather_agent(url, calls):
    @agents.function_tool
    def get_weather(city: str) -> str:
        """The current weather of a city."""
        calls.append(city)
        return "18 degrees and sunny"

    client = AsyncOpenAI(base_url=url + "/v1", api_key=API_KEY, max_retries=0)
    return agents.Agent(
        name="weather", instructions="Answer weather questions with the get_weather tool.",
        model=agents.OpenAIResponsesModel(model="synthetic", openai_client=client), tools=[get_weather],
        # The first turn must call; the SDK lets the model choose again once it has.
        model_settings=agents.ModelSettings(tool_choice="required"))


def conversations(url):
    request = urllib.request.Request(url + "/v1/conversations", headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["data"]


def check(result, calls):
    kinds = [type(item).__name__ for item in result.new_items]
    assert kinds == ["ToolCallItem", "ToolCallOutputItem", "MessageOutputItem"]
    call = result.new_items[0].raw_item
    assert call.name == "get_weather" and call.call_id.startswith("call_")
    arguments = json.loads(call.arguments)
    assert set(arguments) == {"city"} and calls == [arguments["city"]]
    assert result.new_items[1].raw_item["call_id"] == call.call_id
    assert isinstance(result.final_output, str) and result.final_output


def test_an_agent_calls_its_tool_and_answers(url):
    calls = []
    result = asyncio.run(agents.Runner.run(weather_agent(url, calls), "What is the weather in Paris?", max_turns=4))
    check(result, calls)
    # Each of the run's two model calls was a stored response: a new chat each time, since the SDK
    # sends the whole run's items rather than a previous response id.
    titles = [conversation["title"] for conversation in conversations(url)]
    assert titles.count("What is the weather in Paris?") == 2


def test_a_chained_run_is_one_stored_chat(url):
    calls = []
    question = "Chained: what is the weather in Oslo?"
    result = asyncio.run(
        agents.Runner.run(weather_agent(url, calls), question, max_turns=4, auto_previous_response_id=True))
    check(result, calls)
    # The second model call went on from the first response: one chat holds the whole run, the
    # call, its result and the answer (the instructions were not stored).
    chats = [conversation for conversation in conversations(url) if conversation["title"] == question]
    assert len(chats) == 1
    request = urllib.request.Request(
        url + f"/v1/conversations/{chats[0]['id']}", headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        messages = json.load(answer)["messages"]
    assert [message["role"] for message in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[2]["content"] == "18 degrees and sunny"
    assert messages[3]["content"] == result.final_output


def test_a_streamed_agent_run(url):
    calls = []

    async def run():
        streamed = agents.Runner.run_streamed(weather_agent(url, calls), "Weather in Rome?", max_turns=4)
        deltas = []
        async for event in streamed.stream_events():
            if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
                deltas.append(event.data.delta)
        return streamed, deltas

    streamed, deltas = asyncio.run(run())
    check(streamed, calls)
    assert "".join(deltas) == streamed.final_output
