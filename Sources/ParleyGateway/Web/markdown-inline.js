// Inline Markdown for markdown.js: code spans, **bold**, *italic*, ~~strike~~, [links](url) and
// bare http(s) URLs. Text becomes text nodes; links are kept only for http(s) URLs. Every scan is
// bounded or remembered so hostile input stays linear.

const MAX_LINK_LABEL = 1000;
const MAX_LINK_TARGET = 2048;
const ESCAPABLE = /[\\`*_{}\[\]()#+\-.!|~<>"']/;

function element(tag, className) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    return node;
}

/** `url` if it is an absolute http(s) URL, else null. */
export function safeURL(url) {
    try {
        const parsed = new URL(url.trim());
        return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
        return null;
    }
}

function link(href, parent) {
    const anchor = element("a");
    anchor.href = href;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer nofollow";
    parent.appendChild(anchor);
    return anchor;
}

/** Appends text with single newlines as line breaks. */
export function appendText(text, parent) {
    const parts = text.split("\n");
    parts.forEach((part, index) => {
        if (index > 0) parent.appendChild(element("br"));
        if (part) parent.appendChild(document.createTextNode(part));
    });
}

/**
 * Index of the closing `delimiter` for an emphasis opened before `from`, or -1. `misses` remembers
 * from where a delimiter has no closing one, so text full of unmatched `*` stays linear.
 */
function closingDelimiter(text, delimiter, from, misses) {
    if (misses.has(delimiter) && from >= misses.get(delimiter)) return -1;
    let at = text.indexOf(delimiter, from);
    while (at >= 0) {
        const before = text[at - 1];
        const after = text[at + delimiter.length];
        const flanking = at > from && !/\s/.test(before);
        const single = delimiter.length === 1 ? after !== delimiter[0] && before !== delimiter[0] : true;
        const wordEnd = delimiter[0] !== "_" || after === undefined || !/[A-Za-z0-9]/.test(after);
        if (flanking && single && wordEnd) return at;
        at = text.indexOf(delimiter, at + 1);
    }
    misses.set(delimiter, from);
    return -1;
}

/** Where a backtick run exactly like `run` starts after `from` (a code span's end), or -1. */
function closingRun(text, run, from) {
    let at = text.indexOf(run, from);
    while (at >= 0 && (text[at + run.length] === "`" || text[at - 1] === "`")) {
        let next = at;
        while (text[next] === "`") next += 1;
        at = text.indexOf(run, next);
    }
    return at;
}

/** `[label](url "title")` starting at `start`: {label, url, end} or null. */
function parseLink(text, start) {
    let depth = 0;
    let close = -1;
    // Labels and targets are short: a bounded scan keeps text full of `[` linear.
    for (let i = start; i < Math.min(text.length, start + MAX_LINK_LABEL); i += 1) {
        if (text[i] === "\\") { i += 1; continue; }
        if (text[i] === "[") depth += 1;
        if (text[i] === "]") { depth -= 1; if (depth === 0) { close = i; break; } }
    }
    if (close < 0 || text[close + 1] !== "(") return null;
    let parens = 0;
    for (let i = close + 2; i < Math.min(text.length, close + 2 + MAX_LINK_TARGET); i += 1) {
        if (text[i] === "(") parens += 1;
        if (text[i] === ")") {
            if (parens === 0) {
                const target = text.slice(close + 2, i).trim().replace(/^<(.*)>$/, "$1");
                const url = target.split(/\s+/)[0] || "";
                return { label: text.slice(start + 1, close), url, end: i + 1 };
            }
            parens -= 1;
        }
    }
    return null;
}

/** Appends the inline rendering of `text` (one paragraph or cell) to `parent`. */
export function appendInline(text, parent) {
    const misses = new Map();        // emphasis delimiter → position from which it never closes
    const unclosedRuns = new Set();  // backtick run lengths without a closing run
    let plain = "";
    const flush = () => { if (plain) { appendText(plain, parent); plain = ""; } };
    let i = 0;
    while (i < text.length) {
        const c = text[i];
        if (c === "\\" && i + 1 < text.length && ESCAPABLE.test(text[i + 1])) { plain += text[i + 1]; i += 2; continue; }
        if (c === "`") {
            let length = 1;
            while (text[i + length] === "`") length += 1;
            const run = text.slice(i, i + length);
            let close = unclosedRuns.has(length) ? -1 : closingRun(text, run, i + length);
            if (close < 0) { unclosedRuns.add(length); plain += run; i += length; continue; }
            flush();
            let code = text.slice(i + run.length, close).replace(/\n/g, " ");
            if (/^ .* $/.test(code) && code.trim()) code = code.slice(1, -1);
            parent.appendChild(element("code")).textContent = code;
            i = close + run.length;
            continue;
        }
        if (c === "[" || (c === "!" && text[i + 1] === "[")) {
            const image = c === "!";
            const parsed = parseLink(text, image ? i + 1 : i);
            if (parsed) {
                flush();
                const href = safeURL(parsed.url);
                const target = href ? link(href, parent) : parent.appendChild(element("span"));
                if (image) target.classList.add("image-link");
                appendInline(image ? parsed.label || "image" : parsed.label, target);
                i = parsed.end;
                continue;
            }
        }
        if ((c === "h" || c === "H") && /^https?:\/\//i.test(text.slice(i, i + 8)) && (i === 0 || !/[A-Za-z0-9]/.test(text[i - 1]))) {
            let url = text.slice(i).match(/^https?:\/\/[^\s<>"'`]+/i)[0];
            // Trailing punctuation is the sentence's, and so is a `)` without its `(`.
            let opens = 0;
            let closes = 0;
            for (const ch of url) { if (ch === "(") opens += 1; else if (ch === ")") closes += 1; }
            let end = url.length;
            for (;;) {
                const last = url[end - 1];
                if (".,;:!?*_~".includes(last)) { end -= 1; continue; }
                if (last === ")" && opens < closes) { end -= 1; closes -= 1; continue; }
                break;
            }
            url = url.slice(0, end);
            const href = safeURL(url);
            if (href) {
                flush();
                link(href, parent).textContent = url;
                i += url.length;
                continue;
            }
        }
        if (c === "*" || c === "_" || c === "~") {
            const run = text.slice(i).match(c === "~" ? /^~~/ : c === "*" ? /^\*{1,3}/ : /^_{1,3}/);
            const opensWord = run && !/\s/.test(text[i + run[0].length] || " ");
            const leftOK = c !== "_" || i === 0 || !/[A-Za-z0-9]/.test(text[i - 1]);
            if (run && opensWord && leftOK) {
                const delimiter = run[0];
                const close = closingDelimiter(text, delimiter, i + delimiter.length, misses);
                if (close > i + delimiter.length) {
                    flush();
                    const inner = text.slice(i + delimiter.length, close);
                    const outer = element(c === "~" ? "del" : delimiter.length === 1 ? "em" : "strong");
                    parent.appendChild(outer);
                    // ***both***: strong around em.
                    const target = c !== "~" && delimiter.length === 3 ? outer.appendChild(element("em")) : outer;
                    appendInline(inner, target);
                    i = close + delimiter.length;
                    continue;
                }
            }
            if (run) { plain += run[0]; i += run[0].length; continue; }
        }
        plain += c;
        i += 1;
    }
    flush();
}
