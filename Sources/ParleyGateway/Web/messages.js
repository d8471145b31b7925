// One chat message as DOM: the body (assistant answers as safe Markdown, everything else as plain
// text), the `‹ 1/2 ›` branch switcher when it has siblings, and its actions (edit and resend,
// regenerate, copy). Built with textContent only.

import { renderMarkdown } from "./markdown.js";
import { reasoningBox, splitReasoning } from "./reasoning.js";
import { splitToolCalls, toolCallBox } from "./toolcalls.js";

function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
}

function button(label, testID, onClick, { title, className = "ghost" } = {}) {
    const node = element("button", className, label);
    node.type = "button";
    node.dataset.testid = testID;
    if (title) { node.title = title; node.setAttribute("aria-label", title); }
    node.addEventListener("click", onClick);
    return node;
}

const ROLE_NAMES = { user: "You", assistant: "Assistant", system: "System", tool: "Tool" };

/** Draws `text` into a message body for `role`; a streaming answer ends in a blinking caret. */
export function renderBody(body, role, text, streaming = false) {
    if (role === "assistant") renderAnswer(body, text);
    else body.textContent = text;
    if (streaming) {
        const blocks = body.querySelectorAll("p, li, pre code, h1, h2, h3, h4, h5, h6, td, th");
        const caret = element("span", "caret");
        caret.setAttribute("aria-hidden", "true");
        (blocks.length ? blocks[blocks.length - 1] : body).appendChild(caret);
    }
}

/**
 * An answer: its reasoning folded away (a section kept open, or closed, as the reader left it
 * while the answer streams on), its words as Markdown, and each tool call it makes as a box.
 */
function renderAnswer(body, text) {
    const { reasoning, finished, answer } = splitReasoning(text);
    if (reasoning === null && !text.includes("<tool_call>")) {
        renderMarkdown(text, body);
        return;
    }
    const previous = body.querySelector(":scope > details.reasoning");
    const nodes = [];
    if (reasoning !== null) {
        const box = reasoningBox(reasoning, finished);
        // Once the reader opened or closed the section, keep it their way.
        if (previous && previous.dataset.touched) {
            box.open = previous.open;
            box.dataset.touched = "1";
        }
        box.addEventListener("toggle", () => {
            if (box.open !== !finished) box.dataset.touched = "1";
        });
        nodes.push(box);
    }
    for (const part of splitToolCalls(answer)) {
        if (part.kind === "call") {
            nodes.push(toolCallBox(part));
            continue;
        }
        const words = document.createElement("div");
        renderMarkdown(part.text, words);
        nodes.push(words);
    }
    body.replaceChildren(...nodes);
}

/**
 * The article for `message` ({id, role, content, status, model}). `options`: siblings {index,
 * count} or null, streaming, highlighted, and the callbacks onSwitch(delta), onEdit(message,
 * text), onRegenerate(message); a missing callback hides its action.
 */
export function messageView(message, options = {}) {
    const article = element("article", "message role-" + message.role);
    article.dataset.testid = "message";
    article.dataset.role = message.role;
    article.dataset.status = options.streaming ? "streaming" : message.status || "complete";
    if (message.id) { article.dataset.messageId = message.id; article.id = "message-" + message.id; }
    if (options.streaming) article.classList.add("streaming");
    if (options.highlighted) article.classList.add("highlighted");

    const header = element("div", "message-header");
    const who = element("span", "message-role", ROLE_NAMES[message.role] || message.role);
    header.appendChild(who);
    if (message.role === "assistant" && message.model) header.appendChild(element("span", "message-model", message.model));
    article.appendChild(header);

    const body = element("div", "message-body" + (message.role === "assistant" ? " markdown" : " plain"));
    body.dataset.testid = "message-body";
    renderBody(body, message.role, message.content || "", options.streaming);
    article.appendChild(body);

    const footer = element("div", "message-actions");
    if (options.siblings && options.siblings.count > 1 && options.onSwitch) {
        const { index, count } = options.siblings;
        const switcher = element("span", "branch-switcher");
        switcher.dataset.testid = "branch-switcher";
        const previous = button("‹", "branch-prev", () => options.onSwitch(-1), { title: "Previous version" });
        previous.disabled = index === 0;
        const label = element("span", "branch-label", `${index + 1}/${count}`);
        label.dataset.testid = "branch-label";
        const next = button("›", "branch-next", () => options.onSwitch(1), { title: "Next version" });
        next.disabled = index === count - 1;
        switcher.append(previous, label, next);
        footer.appendChild(switcher);
    }
    const tags = { cancelled: "stopped", interrupted: "interrupted", truncated: "cut off at the length limit" };
    if (tags[message.status]) {
        const tag = element("span", "status-tag", tags[message.status]);
        tag.dataset.testid = "message-status";
        footer.appendChild(tag);
    }
    if (!options.streaming && message.id) {
        if (options.onEdit && message.role === "user") {
            footer.appendChild(button("Edit", "edit", () => beginEdit(article, body, message, options.onEdit), { title: "Edit and resend" }));
        }
        if (options.onRegenerate && message.role === "assistant") {
            footer.appendChild(button("Regenerate", "regenerate", () => options.onRegenerate(message), { title: "Regenerate this answer" }));
        }
        footer.appendChild(button("Copy", "copy", (event) => {
            navigator.clipboard?.writeText(message.content || "").then(() => {
                event.target.textContent = "Copied";
                setTimeout(() => { event.target.textContent = "Copy"; }, 1200);
            }, () => {});
        }, { title: "Copy the text" }));
    }
    article.appendChild(footer);
    return article;
}

/** Turns a user message into an editor; sending creates a sibling branch. */
function beginEdit(article, body, message, onEdit) {
    if (article.classList.contains("editing")) return;
    article.classList.add("editing");
    const editor = element("div", "editor");
    const input = element("textarea", "edit-input");
    input.dataset.testid = "edit-input";
    input.value = message.content || "";
    input.rows = Math.min(12, Math.max(2, input.value.split("\n").length));
    const row = element("div", "editor-buttons");
    const cancel = () => { editor.remove(); body.hidden = false; article.classList.remove("editing"); };
    const send = () => {
        const text = input.value.trim();
        if (!text) return;
        cancel();
        onEdit(message, text);
    };
    row.append(
        button("Cancel", "edit-cancel", cancel, { className: "secondary" }),
        button("Send", "edit-send", send, { className: "primary" }));
    input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
        if (event.key === "Escape") { event.preventDefault(); cancel(); }
    });
    editor.append(input, row);
    body.hidden = true;
    body.after(editor);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
}
