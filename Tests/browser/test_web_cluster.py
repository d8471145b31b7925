"""The cluster view: every member with its roles and state, refreshed live."""


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
