"""Drives `parley chat` through a pseudo-terminal (pexpect) against `parley dev --model synthetic`.

Run: python3 -m pytest -q Tests/terminal/test_chat.py   (needs pexpect and pytest from PyPI)
The parley binary is $PARLEY_BIN, default .build/debug/parley (build it first). The script starts
`parley dev` on a free loopback port with a fresh data directory and kills it at the end
($PARLEY_TEST_URL and $PARLEY_TEST_API_KEY point it at a gateway that already runs instead).
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pexpect
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import PARLEY, running_parley_dev  # noqa: E402
API_KEY = os.environ.get("PARLEY_TEST_API_KEY", "pk-terminal-test-key-0123456789")
# Slow enough that Ctrl-C lands mid-answer: 64 tokens at 20 tokens/s is about 3 s.
DEV_ARGS = ["--model", "synthetic", "--synthetic-ttft", "50", "--synthetic-tps", "20"]
WORDS = r"[a-z]+(?: [a-z]+)+"  # the synthetic model answers in lowercase words


@pytest.fixture(scope="module")
def gateway():
    if os.environ.get("PARLEY_TEST_URL"):  # an already running gateway (debugging)
        yield os.environ["PARLEY_TEST_URL"]
        return
    with running_parley_dev(API_KEY, *DEV_ARGS, prefix="parley-terminal-") as url:
        yield url


def chat(url, *args, **kwargs):
    child = pexpect.spawn(PARLEY, ["chat", "--url", url, "--api-key", API_KEY, *args],
                          encoding="utf-8", timeout=30, dimensions=(40, 200), **kwargs)
    child.logfile_read = sys.stdout
    return child


def get(url, path):
    request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def test_prompt_argument_prints_one_answer_and_exits(gateway):
    child = chat(gateway, "Tell me about rivers")
    child.expect(WORDS)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_standard_input_prompt(gateway):
    result = subprocess.run([PARLEY, "chat", "--url", gateway, "--api-key", API_KEY],
                            input="What is light?\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert re.search(WORDS, result.stdout)


def test_text_piped_beside_a_prompt_goes_after_it(gateway):
    result = subprocess.run([PARLEY, "chat", "--url", gateway, "--api-key", API_KEY, "When is the meeting?"],
                            input="Notes: the meeting moved to Thursday.\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    newest = get(gateway, "/v1/conversations?limit=1")["data"][0]
    messages = get(gateway, f"/v1/conversations/{newest['id']}")["messages"]
    assert messages[0]["content"] == "When is the meeting?\n\nNotes: the meeting moved to Thursday."
    assert newest["title"] == "When is the meeting? Notes: the meeting moved to Thursday."


def test_a_prompt_does_not_wait_for_a_silent_pipe(gateway):
    # Standard input is a pipe that stays open and brings nothing (a supervisor's stdin): the
    # prompt is answered after at most a second of looking.
    reader, writer = os.pipe()
    try:
        started = time.monotonic()
        result = subprocess.run([PARLEY, "chat", "--url", gateway, "--api-key", API_KEY, "Tell me about lakes"],
                                stdin=reader, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert re.search(WORDS, result.stdout)
        assert time.monotonic() - started < 30
    finally:
        os.close(reader)
        os.close(writer)


def test_wrong_key_is_reported(gateway):
    result = subprocess.run([PARLEY, "chat", "--url", gateway, "--api-key", "wrong", "--model", "synthetic", "hi"],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "api-key" in result.stderr or "401" in result.stderr


def test_interactive_session(gateway):
    child = chat(gateway)
    child.expect("/help")
    child.expect("> ")

    # A message streams an answer, then the prompt comes back.
    child.sendline("first question about copper skies")
    child.expect_exact("first question about copper skies\r\n")  # the terminal's echo
    child.expect(WORDS)
    child.expect("> ")

    # The exchange was stored: /list shows it.
    child.sendline("/list")
    child.expect(r"([0-9a-f][0-9a-f-]{15,})\s+\d{4}-\d\d-\d\d")
    conversation_id = child.match.group(1)
    child.expect("> ")

    # Search finds the question.
    child.sendline("/search copper")
    child.expect(conversation_id)
    child.expect("> ")

    # /open shows the conversation's messages.
    child.sendline("/new")
    child.expect(r"\(new conversation\)")
    child.expect("> ")
    child.sendline(f"/open {conversation_id}")
    child.expect("you: first question about copper skies")
    child.expect("> ")

    # Ctrl-C mid-answer stops it (and cancels it on the server), the prompt comes back.
    child.sendline("a second question that gets a long answer")
    child.expect_exact("a second question that gets a long answer\r\n")
    child.expect(WORDS)
    child.sendintr()
    child.expect(r"\[stopped")
    child.expect("> ")

    # The stored conversation shows the stopped answer as cancelled (an answer is stored as its run
    # ends, so allow the server a moment: there is no event to wait for from here).
    deadline = time.monotonic() + 10
    while True:
        statuses = [m["status"] for m in get(gateway, f"/v1/conversations/{conversation_id}")["messages"]
                    if m["role"] == "assistant"]
        if (len(statuses) == 2 and statuses[-1] != "streaming") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert statuses[0] == "complete"
    assert statuses[-1] == "cancelled"

    # Unknown commands are explained; Ctrl-C twice at the prompt exits.
    child.sendline("/nonsense")
    child.expect("unknown command")
    child.expect("> ")
    # A server's refusal reads as its own words, then status and code.
    child.sendline("/open no-such-chat")
    child.expect_exact("error: no such conversation (HTTP 404, not_found)")
    child.expect("> ")
    child.sendintr()
    child.expect("Ctrl-C again")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 or child.signalstatus is not None


def test_conversation_option_continues_a_stored_chat(gateway):
    child = chat(gateway, "remember the word lighthouse")
    child.expect(pexpect.EOF)
    child.close()
    newest = get(gateway, "/v1/conversations?limit=1")["data"][0]["id"]
    child = chat(gateway, "--conversation", newest)
    child.expect("you: remember the word lighthouse")
    child.expect("> ")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_retry_answers_again_beside_the_old_answer_and_system_starts_the_chat(gateway):
    child = chat(gateway, "--system", "Answer like a pirate.", "--temperature", "0.5")
    child.expect("> ")
    child.sendline("where is the treasure of copper bay")
    child.expect(WORDS)
    child.expect("> ")
    child.sendline("/retry")
    child.expect(WORDS)
    child.expect("> ")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    newest = get(gateway, "/v1/conversations?limit=1")["data"][0]["id"]
    messages = get(gateway, f"/v1/conversations/{newest}")["messages"]
    assert [m["role"] for m in messages[:2]] == ["system", "user"]
    assert messages[0]["content"] == "Answer like a pirate."
    question = messages[1]
    answers = [m for m in messages if m["role"] == "assistant"]
    # Two answers to the one question, side by side; the stored chat shows the newer.
    assert len(answers) == 2 and all(a["parent_id"] == question["id"] for a in answers)
    assert get(gateway, f"/v1/conversations/{newest}")["current_message_id"] == answers[-1]["id"]


def test_retry_before_any_question_is_refused(gateway):
    child = chat(gateway)
    child.expect("> ")
    child.sendline("/retry")
    child.expect("nothing to retry yet")
    child.expect("> ")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()


def test_a_pasted_paragraph_and_a_fenced_block_are_one_message_each(gateway):
    child = chat(gateway)
    child.expect("> ")
    # What a terminal with bracketed paste on sends for a pasted paragraph, then Enter.
    child.send("\x1b[200~pasted line one\rpasted line two\x1b[201~ and a question\r")
    child.expect(WORDS)
    child.expect("> ")
    child.sendline('"""')
    child.expect("… ")
    child.sendline("fenced line one")
    child.sendline("fenced line two")
    child.sendline('"""')
    child.expect(WORDS)
    child.expect("> ")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    newest = get(gateway, "/v1/conversations?limit=1")["data"][0]["id"]
    questions = [m["content"] for m in get(gateway, f"/v1/conversations/{newest}")["messages"] if m["role"] == "user"]
    assert questions == ["pasted line one\npasted line two and a question", "fenced line one\nfenced line two"]


def test_model_lists_the_served_models_and_refuses_one_not_served(gateway):
    child = chat(gateway)
    child.expect("> ")
    child.sendline("/model")
    child.expect(r"\* synthetic")
    child.expect("> ")
    child.sendline("/model gpt-9")
    child.expect("no live node serves gpt-9; served: synthetic")
    child.expect("> ")
    child.sendline("/model synthetic")
    child.expect(r"\(answering with synthetic\)")
    child.expect("> ")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_long_prompt_shows_reading_progress_on_a_terminal_and_nothing_in_a_pipe():
    with running_parley_dev(API_KEY, "--model", "synthetic", "--synthetic-ttft", "2000", "--synthetic-tps", "50",
                            prefix="parley-terminal-reading-") as url:
        child = chat(url, "a long question " * 30)
        child.expect(r"\[reading your message… (\d+)%\]")
        first = int(child.match.group(1))
        child.expect(r"\[reading your message… (\d+)%\]")
        assert int(child.match.group(1)) > first
        # The line is wiped (carriage return, erase to the end) before the answer's first word.
        child.expect("\r\x1b\\[K" + WORDS)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0

        result = subprocess.run([PARLEY, "chat", "--url", url, "--api-key", API_KEY, "another long question"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "reading" not in result.stdout + result.stderr
        assert re.fullmatch(WORDS + r"\n", result.stdout), result.stdout
