// Safe Markdown: text in, DOM nodes out. Nothing here ever parses HTML: every piece of the input
// becomes a text node (createTextNode/textContent), so `<script>` or `<img onerror>` in model output
// or stored history shows as the characters it is. Links are kept only for http(s) URLs.
//
// Supported: fenced code blocks (``` or ~~~, with a language label), indented code, headings,
// paragraphs (single newlines are line breaks), block quotes, nested bullet and numbered lists,
// horizontal rules, pipe tables, and inline code, **bold**, *italic*, ~~strike~~, [links](url)
// and bare http(s) URLs.

import { appendInline, appendText } from "./markdown-inline.js";

const FENCE = /^ {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*))?$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}>[ ]?/;
const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$/;
const TABLE_RULE = /^ *\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$/;
const INDENTED_CODE = /^(?: {4}|\t)/;

/** Replaces the children of `container` with the rendering of `text`. */
export function renderMarkdown(text, container) {
    const fragment = document.createDocumentFragment();
    appendBlocks(String(text).replace(/\r\n?/g, "\n").split("\n"), fragment);
    container.replaceChildren(fragment);
}

function element(tag, className) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    return node;
}

const isBlank = (line) => /^\s*$/.test(line);
const indentOf = (line) => line.match(/^ */)[0].length;

/** Does `line` start a block other than a paragraph (so it ends a paragraph)? */
function startsBlock(line) {
    return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || startsListItem(line);
}

function startsListItem(line) {
    const match = LIST_ITEM.exec(line);
    return match !== null && match[3] !== undefined && match[3].trim() !== "";
}

/** Quotes and lists nest; deeper than this the rest is shown as plain text (no deep recursion). */
const MAX_DEPTH = 32;

function appendBlocks(lines, parent, depth = 0) {
    if (depth > MAX_DEPTH) {
        const paragraph = element("p");
        appendText(lines.join("\n"), paragraph);
        parent.appendChild(paragraph);
        return;
    }
    let i = 0;
    while (i < lines.length) {
        const line = lines[i];
        if (isBlank(line)) { i += 1; continue; }
        let match;
        if ((match = FENCE.exec(line))) { i = appendFence(lines, i, match, parent); continue; }
        if (INDENTED_CODE.test(line)) { i = appendIndentedCode(lines, i, parent); continue; }
        if ((match = HEADING.exec(line))) {
            const heading = element("h" + match[1].length);
            appendInline(headingText(match[2] || ""), heading);
            parent.appendChild(heading);
            i += 1;
            continue;
        }
        if (RULE.test(line)) { parent.appendChild(element("hr")); i += 1; continue; }
        if (QUOTE.test(line)) {
            const quoted = [];
            while (i < lines.length && QUOTE.test(lines[i])) { quoted.push(lines[i].replace(QUOTE, "")); i += 1; }
            const quote = element("blockquote");
            appendBlocks(quoted, quote, depth + 1);
            parent.appendChild(quote);
            continue;
        }
        if ((match = LIST_ITEM.exec(line)) && match[3] !== undefined) { i = appendList(lines, i, parent, depth); continue; }
        if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]) && lines[i + 1].includes("-")) {
            i = appendTable(lines, i, parent);
            continue;
        }
        i = appendParagraph(lines, i, parent);
    }
}

/** A heading's text without the optional closing `#`s (no regex: long lines stay linear). */
function headingText(text) {
    let end = text.length;
    while (end > 0 && (text[end - 1] === " " || text[end - 1] === "\t")) end -= 1;
    let hashes = end;
    while (hashes > 0 && text[hashes - 1] === "#") hashes -= 1;
    if (hashes < end && (hashes === 0 || text[hashes - 1] === " " || text[hashes - 1] === "\t")) end = hashes;
    return text.slice(0, end).trim();
}

function appendFence(lines, start, match, parent) {
    const marker = match[1];
    const language = (match[2] || "").replace(/[^A-Za-z0-9_+#.-]/g, "").slice(0, 32);
    const body = [];
    let i = start + 1;
    for (; i < lines.length; i += 1) {
        const closing = lines[i].match(/^ {0,3}(`{3,}|~{3,})[ \t]*$/);
        if (closing && closing[1][0] === marker[0] && closing[1].length >= marker.length) { i += 1; break; }
        body.push(lines[i]);
    }
    parent.appendChild(codeBlock(body.join("\n"), language));
    return i;
}

function appendIndentedCode(lines, start, parent) {
    const body = [];
    let i = start;
    while (i < lines.length && (INDENTED_CODE.test(lines[i]) || isBlank(lines[i]))) {
        body.push(lines[i].replace(INDENTED_CODE, ""));
        i += 1;
    }
    while (body.length && isBlank(body[body.length - 1])) body.pop();
    parent.appendChild(codeBlock(body.join("\n"), ""));
    return i;
}

/** A code block with a header (language, copy button); the code is text only. */
function codeBlock(text, language) {
    const wrapper = element("div", "code-block");
    const header = element("div", "code-header");
    const label = element("span", "code-language");
    label.textContent = language || "code";
    const copy = element("button", "code-copy");
    copy.type = "button";
    copy.textContent = "Copy";
    copy.addEventListener("click", () => {
        navigator.clipboard?.writeText(text).then(() => {
            copy.textContent = "Copied";
            setTimeout(() => { copy.textContent = "Copy"; }, 1200);
        }, () => {});
    });
    header.append(label, copy);
    const pre = element("pre");
    const code = element("code", language ? "language-" + language : "");
    code.textContent = text;
    pre.appendChild(code);
    wrapper.append(header, pre);
    return wrapper;
}

function appendParagraph(lines, start, parent) {
    const text = [lines[start].trim()];
    let i = start + 1;
    while (i < lines.length && !isBlank(lines[i]) && !startsBlock(lines[i])) { text.push(lines[i].trim()); i += 1; }
    const paragraph = element("p");
    appendInline(text.join("\n"), paragraph);
    parent.appendChild(paragraph);
    return i;
}

/** A list at the indentation of `lines[start]`; items hold blocks, so lists nest. */
function appendList(lines, start, parent, depth) {
    const first = LIST_ITEM.exec(lines[start]);
    const indent = first[1].length;
    const ordered = /\d/.test(first[2]);
    const list = element(ordered ? "ol" : "ul");
    if (ordered) {
        const number = parseInt(first[2], 10);
        if (number !== 1) list.start = number;
    }
    let i = start;
    while (i < lines.length) {
        const match = LIST_ITEM.exec(lines[i]);
        if (!match || match[3] === undefined || match[1].length !== indent || /\d/.test(match[2]) !== ordered) break;
        const contentIndent = indent + match[2].length + 1;
        const body = [match[3]];
        i += 1;
        while (i < lines.length) {
            const line = lines[i];
            if (isBlank(line)) {
                let next = i + 1;
                while (next < lines.length && isBlank(lines[next])) next += 1;
                if (next < lines.length && indentOf(lines[next]) >= contentIndent) {
                    for (; i < next; i += 1) body.push("");
                    continue;
                }
                break;
            }
            if (indentOf(line) > indent) { body.push(line.slice(Math.min(indentOf(line), contentIndent))); i += 1; continue; }
            if (startsBlock(line)) break;
            body.push(line.trim()); // lazy continuation of the item's paragraph
            i += 1;
        }
        const item = element("li");
        appendBlocks(body, item, depth + 1);
        list.appendChild(item);
        // A blank line between items: the list ends unless another item of this list follows.
        while (i < lines.length && isBlank(lines[i])) {
            const next = lines.slice(i).findIndex((l) => !isBlank(l));
            if (next < 0) { i = lines.length; break; }
            const candidate = LIST_ITEM.exec(lines[i + next]);
            if (candidate && candidate[1].length === indent && /\d/.test(candidate[2]) === ordered) { i += next; break; }
            return finishList(list, parent, i);
        }
    }
    return finishList(list, parent, i);
}

function finishList(list, parent, i) {
    parent.appendChild(list);
    return i;
}

function tableCells(line) {
    let text = line.trim();
    if (text.startsWith("|")) text = text.slice(1);
    if (text.endsWith("|") && !text.endsWith("\\|")) text = text.slice(0, -1);
    return text.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

function appendTable(lines, start, parent) {
    const head = tableCells(lines[start]);
    const aligns = tableCells(lines[start + 1]).map((cell) =>
        cell.startsWith(":") && cell.endsWith(":") ? "center" : cell.endsWith(":") ? "right" : cell.startsWith(":") ? "left" : "");
    const wrapper = element("div", "table-wrap");
    const table = element("table");
    const headRow = element("tr");
    head.forEach((cell, index) => {
        const th = element("th");
        if (aligns[index]) th.style.textAlign = aligns[index];
        appendInline(cell, th);
        headRow.appendChild(th);
    });
    table.appendChild(element("thead")).appendChild(headRow);
    const body = table.appendChild(element("tbody"));
    let i = start + 2;
    while (i < lines.length && !isBlank(lines[i]) && lines[i].includes("|")) {
        const row = element("tr");
        const cells = tableCells(lines[i]);
        for (let index = 0; index < head.length; index += 1) {
            const td = element("td");
            if (aligns[index]) td.style.textAlign = aligns[index];
            appendInline(cells[index] || "", td);
            row.appendChild(td);
        }
        body.appendChild(row);
        i += 1;
    }
    wrapper.appendChild(table);
    parent.appendChild(wrapper);
    return i;
}
