"""The generation log of a finished answer, through plain HTTP against a real `parley dev`: a resume
reads it while it is kept, it is pruned after `--generation-log-retention`, and the answer stays in
its conversation.

The parley binary is $PARLEY_BIN (default .build/debug/parley).
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402
API_KEY = "pk-generation-log-test-0123456789"
RETENTION = 3  # seconds; the log goes between 3 and 4 s after the answer ends


def request(url, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json", **(headers or {})}
    return urllib.request.urlopen(urllib.request.Request(url + path, data=data, headers=all_headers), timeout=30)


def streamed_text(body):
    """The content of an SSE body's chunks, the `id:` of its events and its finish reason."""
    text, ids, finish = [], [], None
    for line in body.splitlines():
        if line.startswith("id: "):
            ids.append(int(line[4:]))
        elif line.startswith("data: {"):
            choices = json.loads(line[6:]).get("choices") or [{}]
            text.append(choices[0].get("delta", {}).get("content") or "")
            finish = choices[0].get("finish_reason") or finish
    return "".join(text), ids, finish


def test_a_finished_answers_log_serves_resumes_then_is_pruned_and_the_answer_stays():
    args = ["--model", "synthetic", "--synthetic-ttft", "5", "--synthetic-tps", "500",
            "--generation-log-retention", str(RETENTION)]
    with running_parley_dev(API_KEY, *args, prefix="parley-log-") as url:
        chat = {"model": "synthetic", "stream": True, "max_tokens": 8,
                "messages": [{"role": "user", "content": "a short answer, please"}]}
        with request(url, "/v1/chat/completions", chat) as answer:
            request_id = answer.headers["x-request-id"]
            conversation_id = answer.headers["x-parley-conversation-id"]
            streamed, ids, finish = streamed_text(answer.read().decode())
        assert streamed and ids[-1] >= 8 and finish == "length"

        # While the log is kept, a client that lost its stream gets the rest of it.
        with request(url, f"/v1/chat/completions/{request_id}/stream", headers={"Last-Event-ID": "3"}) as resumed:
            rest, rest_ids, rest_finish = streamed_text(resumed.read().decode())
        # The log knows the answer reached its limit: the resumed stream ends as the live one did.
        assert rest_ids[0] == 4 and streamed.endswith(rest) and rest_finish == "length"

        # After the retention the log is gone: a resume is a clear 404.
        deadline = time.monotonic() + RETENTION + 20
        while True:
            try:
                request(url, f"/v1/chat/completions/{request_id}/stream").close()
            except urllib.error.HTTPError as error:
                assert error.code == 404
                assert "pruned" in json.loads(error.read())["error"]["message"]
                break
            assert time.monotonic() < deadline, "the log was not pruned"
            time.sleep(0.2)

        # The answer itself stays in the conversation.
        with request(url, f"/v1/conversations/{conversation_id}") as stored:
            messages = json.loads(stored.read())["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert messages[-1]["content"] == streamed and messages[-1]["status"] == "truncated"
