"""Stored history in the page: search hits that open the chat at the message (on its branch),
stored markup that must stay text, and the conversation list (pages as it scrolls, pin, rename,
delete).
"""

import json
import time
import uuid

from web_support import chatgpt_conversation, seed
from selenium.webdriver.common.keys import Keys


def test_search_shows_marked_hits_and_a_click_opens_the_message_on_its_branch(signed_in):
    page = signed_in
    # The match sits in the answer of an older branch: opening it must switch branches.
    stored = seed(page.api, "Travel notes", [
        ("u1", None, "user", "Where should I go in spring?"),
        ("a1", "u1", "assistant", "Try the spice markets of Zanzibarquay & the <old> harbour."),
        ("a2", "u1", "assistant", "Try the north coast instead."),
        ("u2", "a2", "user", "Thanks!"),
        ("a3", "u2", "assistant", "Have a good trip."),
    ], current="a3")
    target = next(m for m in page.api.conversation(stored["id"])["messages"] if "Zanzibarquay" in m["content"])

    page.visible("[data-testid=search-input]").send_keys("zanzibarquay")
    hit = page.visible(f"[data-testid=search-hit][data-message-id='{target['id']}']")
    mark = hit.find_element("css selector", "[data-testid=search-snippet] mark")
    assert mark.text.lower() == "zanzibarquay"
    snippet = hit.find_element("css selector", "[data-testid=search-snippet]").text
    assert "& the <old> harbour" in snippet  # escaped text shown as written, not as markup
    assert not page.find_all("#search-results old")
    page.screenshot("hits")

    # Filters: nothing by the user matches, nothing before the message was written.
    page.find("[data-testid=search-filters-toggle]").click()
    page.js("const r = document.getElementById('search-role'); r.value = 'user';"
            "r.dispatchEvent(new Event('change'));")
    page.wait(lambda: not page.find_all("[data-testid=search-hit]"), message="role filter removes the hit")
    page.js("const r = document.getElementById('search-role'); r.value = '';"
            "r.dispatchEvent(new Event('change'));"
            "const t = document.getElementById('search-to'); t.value = '2001-01-01';"
            "t.dispatchEvent(new Event('change'));")
    page.wait(lambda: not page.find_all("[data-testid=search-hit]"), message="date filter removes the hit")
    page.js("const t = document.getElementById('search-to'); t.value = '';"
            "t.dispatchEvent(new Event('change'));")
    hit = page.visible(f"[data-testid=search-hit][data-message-id='{target['id']}']")

    hit.click()
    message = page.visible(f"[data-testid=message][data-message-id='{target['id']}']")
    page.wait(lambda: "highlighted" in message.get_attribute("class"), message="the hit is highlighted")
    assert page.conversation_id() == stored["id"]
    assert page.js("const r = arguments[0].getBoundingClientRect();"
                   "return r.top >= 0 && r.bottom <= window.innerHeight;", message)
    label = message.find_element("css selector", "[data-testid=branch-label]")
    assert label.text == "1/2"
    assert "Zanzibarquay & the <old> harbour" in message.text
    page.driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    try:
        page.screenshot("dark")
    finally:
        page.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_stored_markup_is_shown_as_text_and_never_runs(signed_in):
    page = signed_in
    answer = ("Here is **bold**, *italic* and `inline <b>code</b>`.\n\n"
              "<img src=x onerror=\"window.__pwned=2\">\n\n"
              "- [a safe link](https://example.com/docs)\n"
              "- [a bad link](javascript:window.__pwned=3)\n\n"
              "```html\n<script>window.__pwned=4</script>\n```\n")
    stored = seed(page.api, "Markup test", [
        ("u1", None, "user", "<script>window.__pwned=1</script> hello"),
        ("a1", "u1", "assistant", answer),
    ], current="a1")
    page.open(f"#/c/{stored['id']}")

    user = page.visible("[data-testid=message][data-role=user] [data-testid=message-body]")
    assert user.text == "<script>window.__pwned=1</script> hello"
    body = page.visible("[data-testid=message][data-role=assistant] [data-testid=message-body]")
    assert '<img src=x onerror="window.__pwned=2">' in body.text
    assert "<script>window.__pwned=4</script>" in body.find_element("css selector", "pre code").text
    assert body.find_element("css selector", "strong").text == "bold"
    assert body.find_element("css selector", "em").text == "italic"
    assert body.find_element("css selector", "p code").text == "inline <b>code</b>"
    links = body.find_elements("css selector", "a")
    assert [(a.text, a.get_attribute("href")) for a in links] == [("a safe link", "https://example.com/docs")]
    assert "noopener" in links[0].get_attribute("rel")
    assert "a bad link" in body.text
    counts = page.js("const m = document.getElementById('messages');"
                     "return [m.querySelectorAll('script').length, m.querySelectorAll('img').length,"
                     "        m.querySelectorAll('[onerror]').length];")
    assert counts == [0, 0, 0]

    # The same markup in a search snippet stays text as well.
    page.find("[data-testid=search-input]").send_keys("pwned")
    page.visible("[data-testid=search-hit]")
    snippets = " ".join(e.text for e in page.find_all("[data-testid=search-snippet]"))
    assert "<script>" in snippets or "onerror" in snippets
    assert page.js("return document.querySelectorAll('#search-results script, #search-results img').length;") == 0
    assert page.js("return window.__pwned === undefined;")


def test_tool_calls_in_an_answer_show_as_boxes(signed_in):
    page = signed_in
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "<b>Paris</b>"}}\n</tool_call>'
    broken = "<tool_call>not a call</tool_call>"
    stored = seed(page.api, "Tool test", [
        ("u1", None, "user", "Weather?"),
        ("a1", "u1", "assistant", "Let me **check**.\n" + call + "\n" + broken),
        ("t1", "a1", "tool", '{"sky": "sunny"}'),
        ("a2", "t1", "assistant", "It is sunny."),
    ], current="a2")
    page.open(f"#/c/{stored['id']}")

    body = page.visible("[data-testid=message][data-role=assistant] [data-testid=message-body]")
    boxes = body.find_elements("css selector", "[data-testid=tool-call]")
    assert len(boxes) == 1
    assert boxes[0].find_element("css selector", ".tool-call-name").text == "Calls get_weather"
    assert json.loads(boxes[0].find_element("css selector", "pre").text) == {"city": "<b>Paris</b>"}
    assert body.find_element("css selector", "strong").text == "check"
    assert broken in body.text
    tool = page.visible("[data-testid=message][data-role=tool] [data-testid=message-body]")
    assert tool.text == '{"sky": "sunny"}'
    assert page.js("return document.getElementById('messages').querySelectorAll('b').length;") == 0


def test_streamed_tool_call_deltas_become_call_boxes(signed_in):
    """An answer whose calls come as `tool_calls` deltas (a resumed stream reads them out of the
    log) keeps them as the stored markup, and the page draws a box for each."""
    page = signed_in
    result = page.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all([import('/assets/generation.js'), import('/assets/toolcalls.js')]).then(([g, t]) => {
            const generation = new g.Generation({});
            generation.save = () => {};
            const chunk = (delta, finish = null) => ({ data: JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] }), id: null });
            for (const event of [
                chunk({ role: "assistant", content: "" }),
                chunk({ content: "Checking." }),
                chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }] }),
                chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city": ' } }] }),
                chunk({ content: "" }),
                chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
                chunk({ tool_calls: [{ index: 1, id: "call_2", type: "function", function: { name: "now", arguments: "{}" } }] }),
                chunk({}, "tool_calls"),
            ]) generation.handle(event);
            done({ text: generation.text, parts: t.splitToolCalls(generation.text) });
        });
    """)
    assert result["parts"] == [
        {"kind": "text", "text": "Checking."},
        {"kind": "call", "name": "get_weather", "arguments": '{\n  "city": "Oslo"\n}'},
        {"kind": "call", "name": "now", "arguments": "{}"},
    ], result["text"]


def test_conversation_list_pages_on_scroll_and_pins_renames_deletes(signed_in):
    page = signed_in
    now = time.time()
    prefix = f"Batch {uuid.uuid4().hex[:4]}"
    batch = [chatgpt_conversation(f"{prefix} {i:02d}", [
        ("u1", None, "user", f"question {i}"), ("a1", "u1", "assistant", f"answer {i}")],
        current="a1", created=now - 3600 - i * 60) for i in range(45)]
    page.api.import_chatgpt(batch)
    total = len(page.api.conversations())
    assert total >= 45
    page.open()
    page.visible("[data-testid=conversation-item]")
    assert len(page.find_all("[data-testid=conversation-item]")) < total  # one page only

    def scrolled_to_all():
        page.js("const s = document.getElementById('sidebar-scroll'); s.scrollTop = s.scrollHeight;")
        return len(page.find_all("[data-testid=conversation-item]")) == total

    page.wait(scrolled_to_all, message="scrolling loads every page")
    titles = page.js("return [...document.querySelectorAll('[data-testid=conversation-item] .conversation-title')]"
                     ".map(e => e.textContent);")
    assert titles.index(f"{prefix} 00") < titles.index(f"{prefix} 44")  # newest first

    item_css = "[data-testid=conversation-item][data-conversation-id='{}']"
    oldest = next(c for c in page.api.conversations() if c["title"] == f"{prefix} 44")
    page.click(item_css.format(oldest["id"]) + " [data-testid=pin]")
    page.wait(lambda: page.js("const l = document.getElementById('conversation-list');"
                              "return [l.querySelector('[data-testid=conversation-item]').dataset.conversationId,"
                              "        l.querySelector('.list-group-label').textContent];") == [oldest["id"], "Pinned"],
              message="the pinned chat comes first, under Pinned")

    page.click(item_css.format(oldest["id"]) + " [data-testid=rename]")
    field = page.visible("[data-testid=rename-input]")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("Pinned and renamed\n")
    page.wait(lambda: page.api.conversation(oldest["id"])["title"] == "Pinned and renamed")
    page.wait(lambda: page.find(item_css.format(oldest["id"])).text.startswith("Pinned and renamed"))
    assert page.api.conversation(oldest["id"])["pinned"] is True

    page.click(item_css.format(oldest["id"]) + " [data-testid=conversation-link]")
    page.wait(lambda: page.find("[data-testid=chat-title]").text == "Pinned and renamed")
    page.click(item_css.format(oldest["id"]) + " [data-testid=delete]")
    page.visible("[data-testid=confirm-delete]").click()
    page.wait(lambda: not page.find_all(item_css.format(oldest["id"])), message="the row is gone")
    assert page.api.status(f"/v1/conversations/{oldest['id']}") == 404
    page.wait(lambda: page.js("return location.hash;") in ("#/", ""), message="the deleted chat is closed")


def test_a_chatgpt_export_is_imported_from_the_page_and_a_chat_downloads_again(signed_in, tmp_path):
    page = signed_in
    title = f"Imported from ChatGPT {uuid.uuid4().hex[:6]}"
    export = [chatgpt_conversation(title, [("r", None, "user", "How far is the moon?"),
                                           ("a", "r", "assistant", "About 384,400 km on average.")], "a")]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(export))
    page.visible("[data-testid=import-open]")
    page.find("[data-testid=import-file]").send_keys(str(path))
    page.wait(lambda: "Imported 1 conversation (2 messages)" in page.find("[data-testid=import-status]").text,
              message="the import reports what came in")
    link = f"[data-testid=conversation-link][title='{title}']"
    page.wait(lambda: page.find_all(link), message="the imported chat is listed")
    # The same file again: nothing new.
    page.find("[data-testid=import-file]").send_keys(str(path))
    page.wait(lambda: "already here" in page.find("[data-testid=import-status]").text, message="a repeat is skipped")

    page.click(link)
    page.wait(lambda: page.assistant_texts() == ["About 384,400 km on average."], message="the chat opened")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    page.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    page.click("[data-testid=export-chat]")
    page.wait(lambda: any(p.suffix == ".json" for p in downloads.iterdir()), message="the chat downloaded")
    downloaded = next(p for p in downloads.iterdir() if p.suffix == ".json")
    assert downloaded.name == title + ".json"
    exported = json.loads(downloaded.read_text())
    texts = sorted(node["message"]["content"]["parts"][0] for node in exported["mapping"].values() if node.get("message"))
    assert texts == ["About 384,400 km on average.", "How far is the moon?"]
    # A new chat has nothing to export.
    page.find("[data-testid=new-chat]").click()
    page.wait(lambda: not page.find("[data-testid=export-chat]").is_displayed(), message="no export for a new chat")
