"""A request refused before its answer starts leaves the caller's history as it was, through plain
HTTP against a real `parley dev`: the caller got an error status and no conversation id, so a new
chat it would have started must not appear in the list; a continued chat keeps its turns.

The parley binary is $PARLEY_BIN (default .build/debug/parley).
"""

import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402
API_KEY = "pk-refused-requests-test-0123456789"


def call(url, path, body=None):
    """(status, headers, parsed JSON body) of a request; error statuses are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, headers={
        "Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.headers, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.load(error)


def titles(url):
    return [c["title"] for c in call(url, "/v1/conversations")[2]["data"]]


def test_a_refused_new_chat_leaves_nothing_and_a_continued_chat_keeps_its_turns():
    with running_parley_dev(API_KEY, "--model", "synthetic", "--synthetic-ttft", "5", "--synthetic-tps", "500",
                            prefix="parley-refused-") as url:
        for stream in (False, True):
            status, headers, body = call(url, "/v1/chat/completions", {
                "model": "no-such-model", "stream": stream, "messages": [{"role": "user", "content": "refused question"}]})
            assert status == 404 and body["error"]["code"] == "model_not_found", body
            assert headers.get("x-parley-conversation-id") is None
        assert titles(url) == []

        status, headers, _ = call(url, "/v1/chat/completions", {
            "model": "synthetic", "max_tokens": 4, "messages": [{"role": "user", "content": "a kept question"}]})
        assert status == 200
        conversation_id = headers["x-parley-conversation-id"]
        status, _, body = call(url, "/v1/chat/completions", {
            "model": "no-such-model", "conversation_id": conversation_id,
            "messages": [{"role": "user", "content": "a refused follow-up"}]})
        assert status == 404, body
        assert titles(url) == ["a kept question"]
        messages = call(url, f"/v1/conversations/{conversation_id}")[2]["messages"]
        assert [m["content"] for m in messages if m["role"] == "user"][0] == "a kept question"
