"""The cluster view: every member with its roles and state, refreshed live, and per-node figures;
against `parley dev` and against two `parley node` processes, one of which is killed and restarted.
"""

import os
import signal
import subprocess
import sys

import pytest
from web_support import API, API_KEY, Page

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parley_dev import PARLEY, free_port  # noqa: E402


def test_cluster_view_lists_the_node_as_alive_and_keeps_refreshing(signed_in):
    page = signed_in
    page.find("[data-testid=tab-cluster]").click()
    row = page.visible("[data-testid=cluster-node]")
    status = page.api.call("GET", "/v1/cluster")
    names = [m["name"] for m in status["members"]]
    assert row.get_attribute("data-node-name") in names
    rows = page.find_all("[data-testid=cluster-node]")
    assert sorted(r.get_attribute("data-node-name") for r in rows) == sorted(names)
    me = page.find(f"[data-testid=cluster-node][data-node-name='{status['self']}']")
    assert me.get_attribute("data-status") == "alive"
    assert me.find_element("css selector", "[data-testid=node-status]").text == "alive"
    for role in ["gateway", "completion", "worker", "model", "conversation"]:
        assert role in me.text
    assert page.find("[data-testid=cluster-count-alive]").text.startswith(str(len(names)))
    cells = [td.text for td in me.find_elements("css selector", "td")]
    node = next(m for m in status["members"] if m["name"] == status["self"])
    if node.get("stats") is not None:  # per-node figures: streams in flight, tokens/s
        assert cells[6].isdigit() and float(cells[7]) >= 0

    page.screenshot("cluster")
    first = page.find("[data-testid=cluster-updated]").text
    page.wait(lambda: page.find("[data-testid=cluster-updated]").text != first, timeout=5,
              message="the view polls again")
    assert page.js("return location.hash;") == "#/cluster"
    page.find("[data-testid=tab-chat]").click()
    page.visible("[data-testid=chat-view]")


class TwoNodes:
    """`alpha` (every role, the gateway) and `beta` (worker and model) as separate processes."""

    def __init__(self, folder):
        self.folder = folder
        self.processes = []
        self.alpha_port = free_port()
        self.http_port = free_port()
        self.beta_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.keys = os.path.join(folder, "api-keys")
        with open(self.keys, "w") as keys:
            keys.write(f"{API_KEY} browser-user\n")

    def start(self, name, roles, port, *extra):
        log = open(os.path.join(self.folder, f"{name}-{len(self.processes)}.log"), "wb")
        process = subprocess.Popen(
            [PARLEY, "node", "--name", name, "--roles", roles, "--listen", f"127.0.0.1:{port}",
             "--data", os.path.join(self.folder, name), "--model", "synthetic", "--synthetic-tps", "16", *extra],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((process, log))
        return process

    def start_alpha(self):
        return self.start("alpha", "gateway,completion,worker,proxy,model,conversation", self.alpha_port,
                          "--http", f"127.0.0.1:{self.http_port}", "--api-keys", self.keys)

    def start_beta(self):
        return self.start("beta", "worker,model", self.beta_port, "--seed", f"127.0.0.1:{self.alpha_port}")

    def stop_all(self):
        for process, log in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.close()


@pytest.fixture
def two_nodes(tmp_path):
    nodes = TwoNodes(str(tmp_path))
    try:
        nodes.start_alpha()
        nodes.start_beta()
        yield nodes
    finally:
        nodes.stop_all()


def test_cluster_view_follows_a_killed_and_restarted_node(driver, two_nodes, background, request):
    page = Page(driver, two_nodes.url, API(two_nodes.url), request.node.name)
    try:
        page.wait(lambda: page.api.status("/readyz") == 200, timeout=60, message="alpha is ready")
        page.sign_in()
        page.open("#/cluster")
        row = "[data-testid=cluster-node][data-node-name='{}']"

        def status_of(name):
            return page.js("const r = document.querySelector(arguments[0]); return r ? r.dataset.status : null;",
                           row.format(name))

        page.wait(lambda: status_of("alpha") == "alive" and status_of("beta") == "alive", timeout=20,
                  message="both nodes alive")
        beta_roles = page.find(row.format("beta")).text
        assert "worker" in beta_roles and "model" in beta_roles and "gateway" not in beta_roles

        # A stream in flight shows in the per-node figures.
        answer = background.submit(page.api.streamed_answer, [{"role": "user", "content": "keep the cluster busy"}])
        page.wait(lambda: page.js("return [...document.querySelectorAll('[data-testid=cluster-node] td:nth-child(7)')]"
                                  ".some(td => Number(td.textContent) > 0);"),
                  timeout=10, message="a node shows a stream in flight")
        page.screenshot("busy")
        assert len(answer.result().split()) == 64

        beta = next(process for process, _ in two_nodes.processes if process.args[3] == "beta")
        beta.send_signal(signal.SIGKILL)
        beta.wait()
        seen = []

        def beta_dead():
            state = status_of("beta")
            if not seen or seen[-1] != state:
                seen.append(state)
            return state == "dead"

        page.wait(beta_dead, timeout=20, message="beta is shown dead")
        assert seen[0] == "alive" and set(seen) <= {"alive", "suspect", "dead"}
        assert status_of("alpha") == "alive"
        assert page.find("[data-testid=cluster-count-dead]").text.startswith("1")
        page.screenshot("dead")

        two_nodes.start_beta()
        page.wait(lambda: status_of("beta") == "alive", timeout=30, message="the restarted beta is alive again")
    finally:
        page.screenshot()
        driver.get("about:blank")
