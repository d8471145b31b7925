// Reasoning inside an answer's text. Reasoning models (DeepSeek-R1, Qwen3, QwQ…) write it first,
// between <think> and </think>, and Parley keeps it so (an upstream's separate reasoning is written
// the same way); the page folds it into a "Reasoning" section above the answer. Some templates put
// the opening tag in the prompt, so an answer may hold only the closing one.

const OPEN = "<think>";
const CLOSE = "</think>";

/**
 * `text` as {reasoning, finished, answer}: `reasoning` is null when the text starts with no
 * reasoning; `finished` tells whether its closing tag came (the answer follows it).
 */
export function splitReasoning(text) {
    const source = String(text);
    const start = source.search(/\S/);
    if (start >= 0 && source.startsWith(OPEN, start)) {
        const body = source.slice(start + OPEN.length);
        const end = body.indexOf(CLOSE);
        if (end < 0) return { reasoning: body.trim(), finished: false, answer: "" };
        return { reasoning: body.slice(0, end).trim(), finished: true, answer: body.slice(end + CLOSE.length).trim() };
    }
    // A lone closing tag (the opening one was in the prompt) counts only where nothing before it
    // looks like text about the tags: no opening tag, no code.
    const end = source.indexOf(CLOSE);
    if (end >= 0 && !/<think>|`/.test(source.slice(0, end))) {
        return { reasoning: source.slice(0, end).trim(), finished: true, answer: source.slice(end + CLOSE.length).trim() };
    }
    return { reasoning: null, finished: true, answer: source };
}

/**
 * A folding section with the reasoning as plain text: open while the model still reasons,
 * folded once the answer starts.
 */
export function reasoningBox(reasoning, finished) {
    const box = document.createElement("details");
    box.className = "reasoning";
    box.dataset.testid = "reasoning";
    box.open = !finished;
    const summary = document.createElement("summary");
    summary.textContent = finished ? "Reasoning" : "Reasoning…";
    const body = document.createElement("div");
    body.className = "reasoning-text";
    body.textContent = reasoning;
    box.append(summary, body);
    return box;
}
