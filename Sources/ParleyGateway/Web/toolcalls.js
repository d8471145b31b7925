// Tool calls inside an answer's text. Parley keeps a call as markup in the answer
// (`<tool_call>{"name": …, "arguments": …}</tool_call>`, see ParleyToolCalls); the page shows each
// as a box naming the tool with its arguments, and the answer's words around them as Markdown.

const OPEN = "<tool_call>";
const CLOSE = "</tool_call>";

/**
 * `text` split into [{kind: "text", text}] and [{kind: "call", name, arguments}] parts, in order.
 * A block that is not a call (not a JSON object with a string `name` and `arguments`) stays text;
 * one the answer has not closed yet is a call in progress ({kind: "call", partial: text}).
 */
export function splitToolCalls(text) {
    const parts = [];
    let rest = String(text);
    while (true) {
        const start = rest.indexOf(OPEN);
        if (start < 0) break;
        const end = rest.indexOf(CLOSE, start + OPEN.length);
        if (start > 0) parts.push({ kind: "text", text: rest.slice(0, start) });
        if (end < 0) {
            parts.push({ kind: "call", partial: rest.slice(start + OPEN.length).trim() });
            return parts;
        }
        const inner = rest.slice(start + OPEN.length, end);
        const call = parseCall(inner);
        parts.push(call || { kind: "text", text: rest.slice(start, end + CLOSE.length) });
        rest = rest.slice(end + CLOSE.length).replace(/^\s+/, "");
    }
    if (rest) parts.push({ kind: "text", text: rest });
    return parts;
}

function parseCall(inner) {
    let value;
    try { value = JSON.parse(inner); } catch { return null; }
    if (!value || typeof value !== "object" || Array.isArray(value)) return null;
    if (typeof value.name !== "string" || !("arguments" in value)) return null;
    const args = typeof value.arguments === "string" ? value.arguments : JSON.stringify(value.arguments, null, 2);
    return { kind: "call", name: value.name, arguments: args };
}

/** A box for one call part: "Calls NAME" and its arguments (text nodes only). */
export function toolCallBox(part) {
    const box = document.createElement("div");
    box.className = "tool-call";
    box.dataset.testid = "tool-call";
    const title = document.createElement("div");
    title.className = "tool-call-name";
    title.textContent = part.partial === undefined ? "Calls " + part.name : "Calling a tool…";
    const code = document.createElement("pre");
    code.textContent = part.partial === undefined ? part.arguments : part.partial;
    box.append(title, code);
    return box;
}
