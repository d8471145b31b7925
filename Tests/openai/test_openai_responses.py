"""The Responses API (`client.responses`) of the official `openai` Python client against a real
`parley dev`: whole and streamed responses (the client's stream helper checks every event's
place), `instructions` that reach the model but are not stored, `previous_response_id` chains that
are turns of one stored conversation, retrieval and input items, function calls and their outputs,
`responses.parse` with a Pydantic model, and refusals as the client's exception types.

Most tests use the synthetic model (fast, and it writes a required call); the last ones use the
built-in SmolLM2, whose answers are held to schemas. The parley binary is $PARLEY_BIN (default
.build/debug/parley).
"""

import json
import os
import sys
import urllib.request

import openai
import pydantic
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402
API_KEY = "pk-openai-responses-test-0123456"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather of a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
}


@pytest.fixture(scope="module")
def synthetic():
    args = ["--model", "synthetic", "--synthetic-ttft", "5", "--synthetic-tps", "500"]
    with running_parley_dev(API_KEY, *args, prefix="parley-responses-") as url:
        yield url


def client(url, key=API_KEY):
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60)


def get(url, path):
    request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def test_a_whole_response(synthetic):
    response = client(synthetic).responses.create(model="synthetic", input="Tell me about ships", max_output_tokens=6)
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert len(response.output) == 1 and response.output[0].type == "message"
    assert response.output_text == response.output[0].content[0].text and len(response.output_text.split()) == 6
    assert response.usage.output_tokens == 6 and response.usage.total_tokens > 6
    assert response.max_output_tokens == 6 and response.store is True


def test_a_streamed_response_reads_as_the_whole_one(synthetic):
    with client(synthetic).responses.stream(model="synthetic", input="Stream something") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert types[:4] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert types[-4:] == [
        "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) == final.usage.output_tokens > 1
    assert final.output_text == "".join(deltas)
    # Read back, the stored response has the same id, items and text.
    again = client(synthetic).responses.retrieve(final.id)
    assert again.output_text == final.output_text
    assert [item.id for item in again.output] == [item.id for item in final.output]


def test_a_broken_stream_resumes_where_it_broke(synthetic):
    c = client(synthetic)
    # A slow answer (the synthetic model's 500 tokens/s with 200 tokens: about 0.4 s).
    stream = c.responses.create(model="synthetic", input="Long one", stream=True, max_output_tokens=200)
    seen = []
    for event in stream:
        seen.append(event)
        if event.type == "response.output_text.delta" and len(seen) > 6:
            break
    stream.close()
    response_id = seen[0].response.id
    rest = list(c.responses.retrieve(response_id, stream=True, starting_after=seen[-1].sequence_number))
    assert [event.sequence_number for event in seen + rest] == list(range(len(seen) + len(rest)))
    text = "".join(event.delta for event in seen + rest if event.type == "response.output_text.delta")
    assert len(text.split()) == 200
    # Cut by max_output_tokens: the log says so, so the resumed stream ends as the live one would.
    assert rest[-1].type == "response.incomplete" and rest[-1].response.incomplete_details.reason == "max_output_tokens"
    stored = c.responses.retrieve(response_id)
    assert stored.output_text == text and stored.status == "incomplete"
    # Every reading gives the time the request was made.
    assert rest[-1].response.created_at == seen[0].response.created_at == stored.created_at


def test_a_running_response_is_cancelled(synthetic):
    c = client(synthetic)
    # 2,000 tokens at the synthetic model's 500 a second: about 4 s, so it is still running.
    stream = c.responses.create(model="synthetic", input="A long one", stream=True, max_output_tokens=2000)
    events = []
    cancelled = None
    for event in stream:
        events.append(event)
        if event.type == "response.output_text.delta" and len(events) > 5 and cancelled is None:
            cancelled = c.responses.cancel(events[0].response.id)
            assert cancelled.status == "cancelled" and cancelled.output_text
    # There is no event for a cancelled response: it ends as one cut short does.
    assert events[-1].type == "response.incomplete" and events[-1].response.status == "cancelled"
    assert c.responses.retrieve(events[0].response.id).status == "cancelled"
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text.startswith(cancelled.output_text) and len(text.split()) < 2000
    with pytest.raises(openai.NotFoundError):
        c.responses.cancel(events[0].response.id)


def test_a_stream_cut_short_ends_incomplete(synthetic):
    stream = client(synthetic).responses.create(model="synthetic", input="Short", stream=True, max_output_tokens=3)
    events = list(stream)
    assert events[-1].type == "response.incomplete" and events[-1].response.status == "incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert events[-1].response.output[0].content[0].text == text and len(text.split()) == 3


def test_a_chain_of_responses_is_one_stored_conversation(synthetic):
    c = client(synthetic)
    first = c.responses.create(model="synthetic", input="First question", instructions="Answer shortly.")
    second = c.responses.create(model="synthetic", input="Second question", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert second.conversation.id == first.conversation.id
    # The second turn's prompt holds the first turn, so it is longer than its own question.
    assert second.usage.input_tokens > first.usage.input_tokens
    details = get(synthetic, f"/v1/conversations/{first.conversation.id}")
    contents = [(message["role"], message["content"]) for message in details["messages"]]
    # The instructions went to the model but are not part of the stored chat.
    assert contents == [
        ("user", "First question"), ("assistant", first.output_text),
        ("user", "Second question"), ("assistant", second.output_text)]
    retrieved = c.responses.retrieve(second.id)
    assert retrieved.status == "completed" and retrieved.output_text == second.output_text
    items = list(c.responses.input_items.list(second.id))
    assert [(item.type, item.role, item.content[0].text) for item in items] == [("message", "user", "Second question")]
    # Going on from the first response again makes a second branch after it.
    branch = c.responses.create(model="synthetic", input="Another second question", previous_response_id=first.id)
    assert branch.conversation.id == first.conversation.id
    details = get(synthetic, f"/v1/conversations/{first.conversation.id}")
    parents = [message["parent_id"] for message in details["messages"] if message["role"] == "user"]
    assert parents.count(parents[1]) == 2


def test_input_items_page_in_both_orders(synthetic):
    c = client(synthetic)
    response = c.responses.create(model="synthetic", input=[
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": [{"type": "input_text", "text": "three"}]},
    ])
    newest_first = list(c.responses.input_items.list(response.id))
    assert [item.content[0].text for item in newest_first] == ["three", "two", "one", "Be kind."]
    page = c.responses.input_items.list(response.id, order="asc", limit=2)
    assert [item.content[0].text for item in page.data] == ["Be kind.", "one"] and page.has_more
    rest = c.responses.input_items.list(response.id, order="asc", after=page.data[-1].id)
    assert [item.content[0].text for item in rest.data] == ["two", "three"] and not rest.has_more


def test_a_required_call_and_its_output(synthetic):
    c = client(synthetic)
    response = c.responses.create(model="synthetic", input="Weather in Paris?", tools=[WEATHER], tool_choice="required")
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].call_id.startswith("call_")
    assert set(json.loads(calls[0].arguments)) == {"city", "unit"}
    assert calls[0].id.startswith("fc_") and calls[0].status == "completed"
    again = c.responses.retrieve(response.id)
    assert [(item.call_id, item.arguments) for item in again.output] == [(calls[0].call_id, calls[0].arguments)]
    after = c.responses.create(
        model="synthetic", previous_response_id=response.id, tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 degrees, sunny"}])
    assert after.status == "completed" and after.output_text
    items = list(c.responses.input_items.list(after.id))
    assert [(item.type, item.call_id, item.output) for item in items] == [
        ("function_call_output", calls[0].call_id, "18 degrees, sunny")]


def test_a_streamed_call_arrives_as_argument_deltas(synthetic):
    c = client(synthetic)
    with c.responses.stream(model="synthetic", input="Weather?", tools=[WEATHER], tool_choice="required") as stream:
        events = list(stream)
        final = stream.get_final_response()
    added = [event for event in events if event.type == "response.output_item.added"]
    assert len(added) == 1 and added[0].item.type == "function_call" and added[0].item.name == "get_weather"
    deltas = [event.delta for event in events if event.type == "response.function_call_arguments.delta"]
    assert len(deltas) > 1
    done = [event for event in events if event.type == "response.function_call_arguments.done"]
    assert done[0].arguments == "".join(deltas) == final.output[0].arguments


def test_a_request_sent_again_under_its_idempotency_key_gets_the_first_response(synthetic):
    c = client(synthetic)
    key = {"Idempotency-Key": f"responses-test-{os.getpid()}-whole"}
    first = c.responses.create(model="synthetic", input="Only once", extra_headers=key)
    again = c.responses.create(model="synthetic", input="Only once", extra_headers=key)
    assert again.id == first.id and again.output_text == first.output_text and again.status == first.status
    key = {"Idempotency-Key": f"responses-test-{os.getpid()}-streamed"}
    events = list(c.responses.create(model="synthetic", input="Only once, streamed", stream=True, extra_headers=key))
    repeated = list(c.responses.create(model="synthetic", input="Only once, streamed", stream=True, extra_headers=key))
    assert [(e.type, e.sequence_number) for e in repeated] == [(e.type, e.sequence_number) for e in events]
    assert repeated[0].response.id == events[0].response.id
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert [e.delta for e in repeated if e.type == "response.output_text.delta"] == deltas
    # Only one chat was stored for each.
    titles = [conversation["title"] for conversation in get(synthetic, "/v1/conversations?limit=200")["data"]]
    assert titles.count("Only once") == 1 and titles.count("Only once, streamed") == 1


def test_an_unstored_response_is_not_kept(synthetic):
    c = client(synthetic)
    response = c.responses.create(model="synthetic", input="Forget this", store=False)
    assert response.store is False and response.conversation is None
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as refused:
        c.responses.create(model="synthetic", input="Go on", previous_response_id=response.id)
    assert refused.value.code == "previous_response_not_found"
    # An unstored turn may still go on from a stored one: it sees that history, and nothing is kept.
    stored = c.responses.create(model="synthetic", input="Remember this")
    aside = c.responses.create(model="synthetic", input="An aside", previous_response_id=stored.id, store=False)
    assert aside.store is False and aside.conversation is None and aside.previous_response_id == stored.id
    assert aside.usage.input_tokens > stored.usage.input_tokens
    details = get(synthetic, f"/v1/conversations/{stored.conversation.id}")
    assert [message["content"] for message in details["messages"]] == ["Remember this", stored.output_text]


def test_refusals(synthetic):
    c = client(synthetic)
    with pytest.raises(openai.AuthenticationError):
        client(synthetic, key="pk-wrong-key-0000000000000000").responses.create(model="synthetic", input="hi")
    with pytest.raises(openai.BadRequestError) as refused:
        c.responses.create(model="synthetic", input="hi", previous_response_id="resp_" + "0" * 64)
    assert refused.value.code == "previous_response_not_found"
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        c.responses.create(model="synthetic", input="hi", background=True)
    assert refused.value.body["param"] == "background"
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        c.responses.create(model="synthetic", input=[{"role": "user", "content": [
            {"type": "input_image", "image_url": "https://example.invalid/cat.png"}]}])
    assert refused.value.body["param"] == "input[0].content[0]"
    with pytest.raises(openai.BadRequestError) as refused:
        c.responses.create(model="synthetic", input=[])
    assert refused.value.body["param"] == "input"
    with pytest.raises(openai.NotFoundError):
        c.responses.create(model="no-such-model", input="hi")


@pytest.fixture(scope="module")
def smollm2():
    with running_parley_dev(API_KEY, prefix="parley-responses-smollm2-") as url:
        yield url


class Story(pydantic.BaseModel):
    title: str
    lines: int


def test_parse_holds_the_answer_to_the_model(smollm2):
    parsed = client(smollm2).responses.parse(
        model="smollm2", input="Invent a short story title and its number of lines.", text_format=Story,
        max_output_tokens=60, temperature=0)
    assert isinstance(parsed.output_parsed, Story)


def test_builtin_model_calls_with_schema_arguments(smollm2):
    response = client(smollm2).responses.create(
        model="smollm2", input="What is the weather in Paris?", tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"}, temperature=0)
    call = response.output[-1]
    assert call.type == "function_call" and call.name == "get_weather"
    arguments = json.loads(call.arguments)
    assert set(arguments) == {"city", "unit"} and arguments["unit"] in ("celsius", "fahrenheit")
