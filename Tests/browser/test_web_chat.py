"""The chat page in headless chromium against `parley dev --model synthetic`: signing in, an answer
that grows token by token, the stop button, a reload in the middle of an answer, regenerate and
edit-and-resend branches.

Run: python3 -m pytest -q Tests/browser   (PARLEY_BIN names the parley binary)
"""

import os
import sys
import uuid

import pytest
from selenium.webdriver.common.keys import Keys
from web_support import API, API_KEY, Page, chatgpt_conversation, seed

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import running_parley_dev  # noqa: E402


def test_sign_in_with_a_key_and_stay_signed_in(page):
    page.open()
    page.visible("[data-testid=token-input]").send_keys("pk-not-a-key")
    page.find("#signin-button").click()
    error = page.visible("#signin-error")
    assert "not accepted" in error.text
    assert not page.find("#app").is_displayed()

    page.sign_in()
    assert page.js("return localStorage.getItem('parley.token');") == "pk-browser-test-key-0123456789"
    page.open()  # a reload keeps the key
    page.visible("#app")
    assert page.find("[data-testid=empty-state]").is_displayed()

    page.find("[data-testid=sign-out]").click()
    page.visible("[data-testid=token-input]")
    assert page.js("return localStorage.getItem('parley.token');") is None


def test_an_answer_grows_token_by_token_and_is_stored(signed_in, background):
    page = signed_in
    prompt = "Tell me how rivers\nreach the sea"
    expected = background.submit(page.api.answer, [{"role": "user", "content": prompt}])
    field = page.visible("[data-testid=prompt]")
    field.send_keys("Tell me how rivers")
    field.send_keys(Keys.SHIFT, Keys.ENTER)  # Shift+Enter: a new line, not sent
    field.send_keys("reach the sea")
    assert field.get_attribute("value") == prompt
    assert not page.find_all("[data-testid=message]")
    field.send_keys(Keys.ENTER)
    lengths = []

    def grew_three_times():
        text = page.live_text()
        if text and (not lengths or len(text) > lengths[-1]):
            lengths.append(len(text))
        return len(lengths) >= 4

    page.wait(grew_three_times, message="the answer grows while it streams")
    page.screenshot("streaming")
    assert page.find("[data-testid=stop]").is_displayed()
    page.wait_answer_done()

    conversation = page.api.conversation(page.conversation_id())
    stored = [m for m in conversation["messages"] if m["role"] == "assistant"]
    assert len(stored) == 1 and stored[0]["status"] == "complete"
    expected = expected.result()
    assert stored[0]["content"] == expected
    assert page.assistant_texts() == [expected]
    assert lengths[-1] < len(expected), "the text was seen before it was complete"
    user = page.find("[data-testid=message][data-role=user] [data-testid=message-body]")
    assert user.text == prompt
    assert page.find("[data-testid=chat-title]").text == " ".join(conversation["title"].split())
    # The new conversation is in the list, marked as the open one.
    page.wait(lambda: page.find_all(f".conversation-item.active[data-conversation-id='{conversation['id']}']"))


def test_stop_ends_the_answer_and_the_server_keeps_it_as_cancelled(signed_in):
    page = signed_in
    page.send("A long story about lighthouses, please")
    page.wait(lambda: len(page.live_text() or "") > 20, message="some text arrived")
    page.visible("[data-testid=stop]").click()
    page.wait_answer_done()
    shown = page.assistant_texts()[-1]

    conversation = page.api.conversation(page.conversation_id())
    answer = [m for m in conversation["messages"] if m["role"] == "assistant"][-1]
    assert answer["status"] == "cancelled"
    assert answer["content"] == shown
    assert 0 < len(shown.split()) < 64, "stopped before the whole 64-token answer"
    tag = page.find("[data-testid=message][data-role=assistant] [data-testid=message-status]")
    assert tag.text == "stopped"
    assert page.find("[data-testid=send]").is_displayed()


def test_a_reload_mid_answer_resumes_the_stream_to_the_whole_answer(signed_in, background):
    page = signed_in
    prompt = "Explain the tides slowly"
    expected = background.submit(page.api.answer, [{"role": "user", "content": prompt}])
    page.send(prompt)
    page.wait(lambda: len(page.live_text() or "") > 20, message="some text arrived")
    conversation_id = page.conversation_id()
    before = page.live_text()
    page.driver.refresh()

    # After the reload the answer is still there and keeps growing.
    page.wait(lambda: page.live_text() is not None and len(page.live_text()) > len(before),
              message="the answer continues after the reload")
    page.screenshot("after-reload")
    page.wait_answer_done()
    expected = expected.result()
    assert page.assistant_texts() == [expected]
    assert page.conversation_id() == conversation_id
    stored = [m for m in page.api.conversation(conversation_id)["messages"] if m["role"] == "assistant"]
    assert [(m["status"], m["content"]) for m in stored] == [("complete", expected)]


def test_an_answer_cut_at_its_length_limit_says_so(signed_in):
    page = signed_in
    title = f"Cut short {uuid.uuid4().hex[:6]}"
    nodes = [("u1", None, "user", "Tell me everything"), ("a1", "u1", "assistant", "Everything begins with")]
    conversation = chatgpt_conversation(title, nodes, current="a1")
    conversation["mapping"]["a1"]["message"]["metadata"]["finish_details"] = {"type": "max_tokens"}
    page.api.import_chatgpt([conversation])
    seeded = next(c for c in page.api.conversations() if c["title"] == title)
    assert [m["status"] for m in page.api.conversation(seeded["id"])["messages"]] == ["complete", "truncated"]
    page.open(f"#/c/{seeded['id']}")
    tag = page.visible("[data-testid=message][data-role=assistant] [data-testid=message-status]")
    assert tag.text == "cut off at the length limit"


def seed_exchange(api, title, question, reply):
    return seed(api, title, [("u1", None, "user", question), ("a1", "u1", "assistant", reply)], current="a1")


def test_regenerate_makes_a_second_branch_with_a_switcher(signed_in):
    page = signed_in
    seeded = seed_exchange(page.api, "Regenerate me", "Name a colour", "Ultramarine, the colour of deep water.")
    page.open(f"#/c/{seeded['id']}")
    page.visible("[data-testid=message][data-role=assistant] [data-testid=regenerate]").click()
    page.wait(lambda: page.live_text() is not None, message="a new answer streams")
    page.wait_answer_done()

    label = page.visible("[data-testid=message][data-role=assistant] [data-testid=branch-label]")
    assert label.text == "2/2"
    second = page.assistant_texts()[-1]
    assert second != "Ultramarine, the colour of deep water."
    page.find("[data-testid=message][data-role=assistant] [data-testid=branch-prev]").click()
    page.wait(lambda: page.find("[data-testid=message][data-role=assistant] [data-testid=branch-label]").text == "1/2")
    assert page.assistant_texts() == ["Ultramarine, the colour of deep water."]
    page.find("[data-testid=message][data-role=assistant] [data-testid=branch-next]").click()
    page.wait(lambda: page.assistant_texts() == [second])

    messages = page.api.conversation(seeded["id"])["messages"]
    user = next(m for m in messages if m["role"] == "user")
    answers = [m for m in messages if m["role"] == "assistant"]
    assert len(answers) == 2 and all(m["parent_id"] == user["id"] for m in answers)

    # Back on the first answer, the next prompt continues that branch.
    page.find("[data-testid=message][data-role=assistant] [data-testid=branch-prev]").click()
    page.wait(lambda: page.assistant_texts() == ["Ultramarine, the colour of deep water."])
    page.send("And a warmer one?")
    page.wait(lambda: page.live_text() is not None, message="the follow-up streams")
    page.wait_answer_done()
    messages = page.api.conversation(seeded["id"])["messages"]
    follow_up = next(m for m in messages if m["content"] == "And a warmer one?")
    original = next(m for m in messages if m["content"] == "Ultramarine, the colour of deep water.")
    assert follow_up["parent_id"] == original["id"]
    assert page.assistant_texts()[0] == "Ultramarine, the colour of deep water."
    assert page.find("[data-testid=message][data-role=assistant] [data-testid=branch-label]").text == "1/2"


def test_edit_and_resend_makes_a_sibling_question(signed_in, background):
    page = signed_in
    seeded = seed(page.api, "Edit me", [
        ("u1", None, "user", "What is a fjord?"),
        ("a1", "u1", "assistant", "A long, narrow inlet with steep sides."),
        ("u2", "a1", "user", "Where are they?"),
        ("a2", "u2", "assistant", "Norway, Chile, New Zealand."),
    ], current="a2")
    page.open(f"#/c/{seeded['id']}")
    expected = background.submit(page.api.answer, [
        {"role": "user", "content": "What is a fjord?"},
        {"role": "assistant", "content": "A long, narrow inlet with steep sides."},
        {"role": "user", "content": "How do glaciers carve them?"}])
    second = "[data-testid=message][data-role=user]:nth-of-type(3)"
    page.visible(f"{second} [data-testid=edit]").click()
    editor = page.visible("[data-testid=edit-input]")
    editor.clear()
    editor.send_keys("How do glaciers carve them?\n")  # Enter sends the edit
    page.wait(lambda: page.live_text() is not None, message="the answer to the edit streams")
    page.wait_answer_done()

    label = page.visible(f"{second} [data-testid=branch-label]")
    assert label.text == "2/2"
    users = page.js("return [...document.querySelectorAll('[data-testid=message][data-role=user] "
                    "[data-testid=message-body]')].map(e => e.textContent);")
    assert users == ["What is a fjord?", "How do glaciers carve them?"]
    assert page.assistant_texts() == ["A long, narrow inlet with steep sides.", expected.result()]
    page.find(f"{second} [data-testid=branch-prev]").click()
    page.wait(lambda: page.assistant_texts() == ["A long, narrow inlet with steep sides.", "Norway, Chile, New Zealand."])

    messages = page.api.conversation(seeded["id"])["messages"]
    first_answer = next(m for m in messages if m["content"].startswith("A long, narrow"))
    questions = [m for m in messages if m["role"] == "user" and m["parent_id"] == first_answer["id"]]
    assert sorted(m["content"] for m in questions) == ["How do glaciers carve them?", "Where are they?"]


def test_keyboard_shortcuts_and_a_narrow_screen(signed_in):
    page = signed_in
    body = page.find("body")
    body.send_keys(Keys.CONTROL, "k")
    assert page.js("return document.activeElement.id;") == "search"
    page.driver.set_window_size(420, 820)
    try:
        page.wait(lambda: not page.js("const r = document.getElementById('sidebar').getBoundingClientRect();"
                                      "return r.right > 0;"), message="the sidebar slides away")
        toggle = page.visible("#chat-view .sidebar-toggle")
        page.screenshot("narrow")
        toggle.click()
        page.wait(lambda: page.js("return document.getElementById('sidebar').getBoundingClientRect().left >= 0;"),
                  message="the toggle shows the sidebar")
        page.screenshot("narrow-sidebar")
        page.find("[data-testid=new-chat]").click()
        page.wait(lambda: page.js("return document.getElementById('sidebar').getBoundingClientRect().right <= 0;"),
                  message="choosing a chat hides it again")
    finally:
        page.driver.set_window_size(1280, 860)


@pytest.fixture
def limited_gateway():
    """A second `parley dev` that allows one request a minute."""
    with running_parley_dev(API_KEY, "--model", "synthetic", "--synthetic-tps", "200", "--rate-limit", "1",
                            prefix="parley-browser-limited-") as url:
        yield url


def test_a_refused_request_shows_the_error_and_gives_the_prompt_back(driver, limited_gateway, request):
    page = Page(driver, limited_gateway, API(limited_gateway), request.node.name)
    try:
        page.sign_in()
        page.send("The one request this minute")
        page.wait_answer_done()
        page.send("One too many")
        error = page.visible("[data-testid=chat-error]")
        assert "rate" in error.text.lower() or "limit" in error.text.lower(), error.text
        page.wait(lambda: page.find("[data-testid=prompt]").get_attribute("value") == "One too many",
                  message="the refused prompt is back in the composer")
        page.wait(lambda: page.js("return document.querySelectorAll('[data-testid=message]').length;") == 2,
                  message="only the first exchange is shown")
        page.screenshot("refused")
    finally:
        page.screenshot()
        driver.get("about:blank")


def test_instructions_start_every_new_chat_as_its_system_message(signed_in):
    page = signed_in
    instructions = "Answer like a lighthouse keeper."
    page.find("[data-testid=instructions-open]").click()
    page.visible("[data-testid=instructions-text]").send_keys(instructions)
    page.find("[data-testid=instructions-save]").click()
    page.wait(lambda: not page.find("[data-testid=instructions-dialog]").is_displayed(), message="the dialog closed")
    assert page.js("return localStorage.getItem('parley.instructions');") == instructions

    page.send("What do you see tonight?")
    page.wait_answer_done()
    conversation_id = page.conversation_id()
    page.send("And tomorrow night?")
    page.wait(lambda: len(page.assistant_texts()) == 2, message="a second answer")
    page.wait_answer_done()
    messages = page.api.conversation(conversation_id)["messages"]
    system = [m for m in messages if m["role"] == "system"]
    # One system message, the chat's root; the first question answers to it, the second does not repeat it.
    assert len(system) == 1 and system[0]["content"] == instructions and system[0]["parent_id"] is None
    questions = [m for m in messages if m["role"] == "user"]
    assert [q["parent_id"] == system[0]["id"] for q in questions] == [True, False]

    # The dialog shows the saved text; emptying it turns the instructions off for the next chat.
    page.find("[data-testid=instructions-open]").click()
    field = page.visible("[data-testid=instructions-text]")
    assert field.get_attribute("value") == instructions
    field.clear()
    page.find("[data-testid=instructions-save]").click()
    assert page.js("return localStorage.getItem('parley.instructions');") is None
    page.find("[data-testid=new-chat]").click()
    page.send("Just a question")
    page.wait_answer_done()
    roles = [m["role"] for m in page.api.conversation(page.conversation_id())["messages"]]
    assert "system" not in roles


@pytest.fixture(scope="module")
def slow_reading_gateway():
    """A synthetic model that takes 2.5 s to its first token, reporting its progress meanwhile."""
    with running_parley_dev(API_KEY, "--model", "synthetic", "--synthetic-ttft", "2500", "--synthetic-tps", "200",
                            "--rate-limit", "1000", prefix="parley-browser-reading-") as url:
        yield url


def test_a_long_prompt_shows_how_far_the_model_has_read_it(driver, slow_reading_gateway, request):
    page = Page(driver, slow_reading_gateway, API(slow_reading_gateway), request.node.name)
    try:
        page.sign_in()
        page.send("A long question " * 40)
        seen = []

        def progress_grew():
            text = page.js("const p = document.querySelector('[data-testid=prompt-progress]'); return p && p.textContent;")
            if text and text not in seen:
                seen.append(text)
            return len(seen) >= 2

        page.wait(progress_grew, message="the live answer shows the model's reading progress, growing")
        assert all(t.startswith("Reading your message… ") and t.endswith("%") for t in seen), seen
        page.screenshot("reading")
        page.wait_answer_done()
        # The progress goes once the answer starts.
        assert not page.find_all("[data-testid=prompt-progress]")
        assert page.assistant_texts()[-1]
    finally:
        page.screenshot()
        driver.get("about:blank")
