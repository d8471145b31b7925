"""The comment lines of a streamed answer, through a real `parley dev`: while the model reads a long
prompt, its progress (`: prompt N/M`) before the first token (the synthetic model takes 1.6 s to
its first token here, reporting every 500 ms as the built-in engine reports its prompt steps); and
heartbeats while a token is slow to come. The official `openai` client reads both unharmed (it
once failed on a heartbeat: it dispatches an empty event at a blank line once an `id:` was seen).

The parley binary is $PARLEY_BIN (default .build/debug/parley).
"""

import http.client
import json
import os
import re
import sys
import time
import urllib.parse

import openai

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402
API_KEY = "pk-prompt-progress-test-0123456789"
DEV_ARGS = ["--model", "synthetic", "--synthetic-ttft", "1600", "--synthetic-tps", "200"]
# One token every 5 s: the gateway's heartbeat (every 2 s while nothing flows) goes out in between.
SLOW_TOKENS_ARGS = ["--model", "synthetic", "--synthetic-ttft", "5", "--synthetic-tps", "0.2"]


def stream_lines(url, body):
    """(seconds since the request, line) for each line of a streamed answer, as it arrives."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    started = time.monotonic()
    connection.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={
        "Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200, response.read()
    lines = [(time.monotonic() - started, "")]
    while True:
        line = response.readline()
        if not line:
            break
        lines.append((time.monotonic() - started, line.decode().rstrip("\n")))
    connection.close()
    return lines


def test_a_slow_first_token_is_preceded_by_prompt_progress_comments():
    with running_parley_dev(API_KEY, *DEV_ARGS, prefix="parley-progress-") as url:
        lines = stream_lines(url, {"model": "synthetic", "stream": True, "max_tokens": 5,
                                   "messages": [{"role": "user", "content": "a long question " * 50}]})
        progress = [(at, line) for at, line in lines if line.startswith(": prompt ")]
        first_token = next(at for at, line in lines if line.startswith("data:") and '"content":"' in line
                           and '"content":""' not in line)
        assert len(progress) >= 2, lines
        assert all(at <= first_token for at, _ in progress)
        counts = [tuple(map(int, re.fullmatch(r": prompt (\d+)/(\d+)", line).groups())) for _, line in progress]
        assert len({total for _, total in counts}) == 1 and counts[0][1] > 50
        assert counts[0][0] == 0  # the first report says the model started reading
        assert [done for done, _ in counts] == sorted(done for done, _ in counts)
        assert all(done <= total for done, total in counts)
        # The answer's head went out with the first report, well before the first token.
        assert progress[0][0] < first_token - 0.3, lines
        assert lines[-1][1] == "" and any(line == "data: [DONE]" for _, line in lines)


def test_the_openai_client_streams_past_the_progress_comments():
    with running_parley_dev(API_KEY, *DEV_ARGS, prefix="parley-progress-openai-") as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=API_KEY)
        chunks = list(client.chat.completions.create(
            model="synthetic", stream=True, max_tokens=6, messages=[{"role": "user", "content": "hello " * 40}]))
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        assert len(text) > 0
        assert chunks[-1].choices[0].finish_reason == "length"
        whole = client.chat.completions.create(
            model="synthetic", max_tokens=6, messages=[{"role": "user", "content": "hello " * 40}])
        assert whole.choices[0].message.content == text


def test_heartbeats_between_slow_tokens_are_lone_comment_lines_the_openai_client_skips():
    with running_parley_dev(API_KEY, *SLOW_TOKENS_ARGS, prefix="parley-heartbeat-") as url:
        body = {"model": "synthetic", "stream": True, "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
        lines = [line for _, line in stream_lines(url, body)]
        beats = [i for i, line in enumerate(lines) if line == ": keep-alive"]
        assert beats, lines
        # Never followed by a blank line: that would dispatch an event without data.
        assert all(lines[i + 1] != "" for i in beats), lines
        client = openai.OpenAI(base_url=url + "/v1", api_key=API_KEY)
        chunks = list(client.chat.completions.create(**body))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert chunks[-1].choices[0].finish_reason == "length"
