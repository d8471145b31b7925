"""Reasoning in an answer (`<think>…</think>` first, as reasoning models and Parley's upstream
backend write it): folded into its own section above the answer, open while it streams, and kept
as plain text."""

RENDER = """
    const [cases, done] = arguments;
    import('/assets/messages.js').then((messages) => {
        const out = {};
        for (const [name, [text, streaming]] of Object.entries(cases)) {
            const body = document.createElement('div');
            messages.renderBody(body, 'assistant', text, streaming);
            const box = body.querySelector(':scope > details.reasoning');
            out[name] = box ? {
                open: box.open, summary: box.querySelector('summary').textContent,
                reasoning: box.querySelector('.reasoning-text').textContent,
                reasoningHTML: box.querySelector('.reasoning-text').innerHTML,
                after: [...body.children].slice(1).map((n) => n.innerHTML).join(''),
            } : {html: body.innerHTML};
        }
        done(out);
    }, (error) => done({error: String(error)}));
"""

CASES = {
    "finished": ["<think>\nFirst, 2+2.\nIt is *4*.\n</think>\n\nThe answer is **4**.", False],
    "streaming": ["<think>Let me see", True],
    "opening tag in the prompt": ["Counting: 1, 2.</think>\n\nTwo.", False],
    "markup stays text": ["<think><b>x</b> <img src=x onerror=alert(1)></think>ok", False],
    "with a tool call": ['<think>Need weather.</think>\n<tool_call>\n{"name": "w", "arguments": {}}\n</tool_call>', False],
    "no reasoning": ["Plain *answer* with </b> in it", False],
    "think later is text": ["Answer first. <think>not reasoning</think>", False],
    "tags in code are text": ["Models close with `</think>` and then answer.", False],
}


def test_reasoning_folds_above_the_answer(page):
    out = page.driver.execute_async_script(RENDER, CASES)
    assert "error" not in out, out
    finished = out["finished"]
    assert not finished["open"] and finished["summary"] == "Reasoning"
    assert finished["reasoning"] == "First, 2+2.\nIt is *4*."
    assert finished["after"] == "<p>The answer is <strong>4</strong>.</p>"

    streaming = out["streaming"]
    assert streaming["open"] and streaming["summary"] == "Reasoning…"
    assert streaming["reasoning"] == "Let me see" and streaming["after"] == ""

    prompt_opened = out["opening tag in the prompt"]
    assert prompt_opened["reasoning"] == "Counting: 1, 2." and prompt_opened["after"] == "<p>Two.</p>"

    hostile = out["markup stays text"]
    assert hostile["reasoningHTML"] == "&lt;b&gt;x&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt;"
    assert hostile["after"] == "<p>ok</p>"

    tool = out["with a tool call"]
    assert tool["reasoning"] == "Need weather." and tool["after"] == '<div class="tool-call-name">Calls w</div><pre>{}</pre>'

    assert out["no reasoning"] == {"html": "<p>Plain <em>answer</em> with &lt;/b&gt; in it</p>"}
    assert out["tags in code are text"] == {
        "html": "<p>Models close with <code>&lt;/think&gt;</code> and then answer.</p>"}
    assert out["think later is text"] == {
        "html": "<p>Answer first. &lt;think&gt;not reasoning&lt;/think&gt;</p>"}
