"""Helpers of the browser tests: the gateway's JSON API (to seed data and check what the page did),
ChatGPT-export conversations to import, and the page under test with waits that tolerate redraws.
"""

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

API_KEY = os.environ.get("PARLEY_TEST_API_KEY", "pk-browser-test-key-0123456789")
SCREENSHOTS = os.environ.get("PARLEY_SCREENSHOTS", "/tmp/parley-screenshots")

class API:
    """The gateway's JSON API, to seed data and check what the page did."""

    def __init__(self, url, key=API_KEY):
        self.url = url
        self.key = key

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def conversation(self, conversation_id):
        return self.call("GET", f"/v1/conversations/{conversation_id}")

    def conversations(self):
        """Every conversation, newest first (pinned first), following `next_cursor`."""
        items, cursor = [], None
        while True:
            page = self.call("GET", "/v1/conversations?limit=200" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""))
            items += page["data"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def status(self, path):
        """HTTP status of GET `path`; 0 when nothing answers."""
        try:
            self.call("GET", path)
            return 200
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:  # not listening (yet)
            return 0

    def answer(self, messages, **extra):
        """The whole synthetic answer to `messages`, not stored."""
        body = {"model": "synthetic", "messages": messages, "store": False, **extra}
        return self.call("POST", "/v1/chat/completions", body)["choices"][0]["message"]["content"]

    def streamed_answer(self, messages):
        """A synthetic answer streamed over SSE to its end (not stored); answers its text."""
        body = json.dumps({"model": "synthetic", "messages": messages, "stream": True, "store": False}).encode()
        request = urllib.request.Request(self.url + "/v1/chat/completions", data=body, method="POST", headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        pieces = []
        with urllib.request.urlopen(request, timeout=60) as answer:
            for raw in answer:
                line = raw.decode().strip()
                if line.startswith("data: {"):
                    for choice in json.loads(line[6:]).get("choices", []):
                        pieces.append(choice.get("delta", {}).get("content") or "")
        return "".join(pieces)

    def import_chatgpt(self, conversations):
        return self.call("POST", "/v1/conversations/import", conversations)


def chatgpt_conversation(title, nodes, current, model="synthetic", created=None):
    """A ChatGPT-export conversation: `nodes` are (id, parent id, role, text) in creation order."""
    created = created or time.time() - 600
    source_id = str(uuid.uuid4())
    mapping = {}
    for index, (node_id, parent, role, text) in enumerate(nodes):
        mapping[node_id] = {
            "id": node_id, "parent": parent, "children": [n[0] for n in nodes if n[1] == node_id],
            "message": {
                "id": node_id, "author": {"role": role}, "create_time": created + index,
                "content": {"content_type": "text", "parts": [text]}, "status": "finished_successfully",
                "metadata": {"model_slug": model} if role == "assistant" else {},
            },
        }
    return {"title": title, "create_time": created, "update_time": created + len(nodes),
            "conversation_id": source_id, "id": source_id, "default_model_slug": model,
            "current_node": current, "mapping": mapping}


def seed(api, title, nodes, current, **extra):
    """Imports one conversation titled `title` plus a unique suffix; answers its summary."""
    title = f"{title} {uuid.uuid4().hex[:6]}"
    api.import_chatgpt([chatgpt_conversation(title, nodes, current, **extra)])
    return next(c for c in api.conversations() if c["title"] == title)


class Page:
    """The page under test, with helpers the tests share."""

    def __init__(self, driver, gateway, api, name):
        self.driver = driver
        self.url = gateway + "/"
        self.api = api
        self.name = name

    def wait(self, condition, timeout=15, message=""):
        # The page redraws lists wholesale: an element found a moment ago may be gone; look again.
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda _: condition(), message)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css):
        return self.wait(lambda: next((e for e in self.find_all(css) if e.is_displayed()), None),
                         message=f"{css} visible")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def click(self, css):
        """Clicks the element matching `css` as it is now (also when only shown on hover)."""
        self.wait(lambda: self.js("const e = document.querySelector(arguments[0]);"
                                  "if (!e) return false; e.scrollIntoView({block: 'center'}); e.click(); return true;", css),
                  message=f"{css} clicked")

    def open(self, fragment=""):
        self.driver.get(self.url + fragment)

    def sign_in(self, key=API_KEY):
        self.open()
        field = self.visible("[data-testid=token-input]")
        field.send_keys(key)
        self.find("#signin-button").click()
        self.visible("#app")
        self.wait(lambda: "synthetic" in [o.get_attribute("value") for o in self.find_all("#model option")],
                  message="the model picker lists synthetic")

    def send(self, text):
        prompt = self.visible("[data-testid=prompt]")
        prompt.send_keys(text)
        self.wait(lambda: self.find("[data-testid=send]").is_enabled())
        prompt.send_keys("\n")  # Enter sends

    def live_text(self):
        return self.js("const b = document.querySelector('#live-answer .message-body');"
                       "return b ? b.textContent : null;")

    def wait_answer_done(self, timeout=30):
        """Waits until no answer streams and the last assistant message came from the server."""
        self.wait(lambda: self.live_text() is None and self.js(
            "const m = [...document.querySelectorAll('[data-testid=message][data-role=assistant]')].pop();"
            "return !!(m && m.dataset.messageId);"), timeout=timeout, message="the answer finished")

    def assistant_texts(self):
        return self.js("return [...document.querySelectorAll('[data-testid=message][data-role=assistant] "
                       "[data-testid=message-body]')].map(e => e.textContent);")

    def conversation_id(self):
        fragment = self.js("return location.hash;")
        assert fragment.startswith("#/c/"), fragment
        return fragment[4:].split("/")[0]

    def screenshot(self, suffix=""):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        path = os.path.join(SCREENSHOTS, self.name + (("-" + suffix) if suffix else "") + ".png")
        self.driver.save_screenshot(path)
        return path

    def script_errors(self):
        return [entry["message"] for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE" and "/assets/" in entry["message"]]
