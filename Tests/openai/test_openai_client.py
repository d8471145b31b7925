"""The official `openai` Python client against a real `parley dev --model synthetic`.

The parley binary is $PARLEY_BIN (default .build/debug/parley). The fixture starts `parley dev` on a
free port with a rate limit of 5 requests a minute and stops it at the end.
"""

import os
import sys
import time

import openai
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402
API_KEY = "pk-openai-client-test-0123456789"
LIMIT = 5


@pytest.fixture(scope="module")
def base_url():
    args = ["--model", "synthetic", "--synthetic-ttft", "5", "--synthetic-tps", "500", "--rate-limit", str(LIMIT)]
    with running_parley_dev(API_KEY, *args, prefix="parley-openai-") as url:
        yield url + "/v1"


def client(base_url, key=API_KEY):
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)


def test_models_list_and_retrieve(base_url):
    c = client(base_url)
    models = list(c.models.list())
    assert [model.id for model in models] == ["synthetic"]
    # Served since the model node started: a recent Unix time, not 0.
    assert abs(models[0].created - time.time()) < 3600
    one = c.models.retrieve("synthetic")
    assert one.id == "synthetic" and one.created == models[0].created and one.owned_by == "parley-synthetic"
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("no-such-model")


def test_streaming_and_non_streaming_give_the_same_answer(base_url):
    messages = [{"role": "user", "content": "the same question twice"}]
    c = client(base_url)
    whole = c.chat.completions.create(model="synthetic", messages=messages, max_tokens=12, seed=7)
    assert whole.object == "chat.completion"
    assert whole.choices[0].finish_reason == "length"
    assert whole.usage.completion_tokens == 12
    pieces = []
    usage = None
    for chunk in c.chat.completions.create(model="synthetic", messages=messages, max_tokens=12, seed=7,
                                           stream=True, stream_options={"include_usage": True}):
        assert chunk.object == "chat.completion.chunk"
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    assert "".join(pieces) == whole.choices[0].message.content
    assert usage is not None and usage.completion_tokens == 12


def test_wrong_key_is_an_authentication_error(base_url):
    with pytest.raises(openai.AuthenticationError):
        client(base_url, key="pk-wrong").models.list()


def test_bad_parameter_is_a_bad_request_naming_it(base_url):
    with pytest.raises(openai.BadRequestError) as raised:
        client(base_url).chat.completions.create(
            model="synthetic", messages=[{"role": "user", "content": "hi"}], temperature=7)
    assert "temperature" in str(raised.value)


def test_requests_over_the_limit_are_rate_limit_errors_with_retry_after(base_url):
    c = client(base_url)
    with pytest.raises(openai.RateLimitError) as raised:
        for _ in range(LIMIT + 1):
            c.chat.completions.create(model="synthetic", messages=[{"role": "user", "content": "again"}], max_tokens=2)
    assert int(raised.value.response.headers["retry-after"]) >= 1
