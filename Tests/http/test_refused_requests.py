"""A request refused before its answer starts leaves the caller's history as it was, through plain
HTTP against a real `parley dev`: the caller got an error status and no conversation id, so a new
chat it would have started must not appear in the list; in a continued chat the refused turn is
withdrawn and the chat goes on from where it was.

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


def test_a_refused_new_chat_leaves_nothing_and_a_continued_chat_loses_only_the_refused_turn():
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
        before = call(url, f"/v1/conversations/{conversation_id}")[2]
        assert [m["role"] for m in before["messages"]] == ["user", "assistant"]

        # The turn is stored while the model starts, so the refusal comes after it: it is withdrawn
        # again, and the chat goes on from its last answer.
        status, _, body = call(url, "/v1/chat/completions", {
            "model": "no-such-model", "conversation_id": conversation_id,
            "messages": [{"role": "user", "content": "a refused follow-up"}]})
        assert status == 404, body
        assert titles(url) == ["a kept question"]
        after = call(url, f"/v1/conversations/{conversation_id}")[2]
        assert [m["id"] for m in after["messages"]] == [m["id"] for m in before["messages"]], after
        assert after["current_message_id"] == before["messages"][1]["id"]
        assert call(url, "/v1/conversations/search", {"query": "refused"})[2]["data"] == []
        status, _, _ = call(url, "/v1/chat/completions", {
            "model": "synthetic", "max_tokens": 2, "conversation_id": conversation_id,
            "messages": [{"role": "user", "content": "a kept follow-up"}]})
        assert status == 200
        messages = call(url, f"/v1/conversations/{conversation_id}")[2]["messages"]
        assert [m["content"] for m in messages if m["role"] == "user"] == ["a kept question", "a kept follow-up"]
        assert messages[2]["parent_id"] == before["messages"][1]["id"]
