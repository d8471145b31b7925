// Search over the caller's messages (`POST /v1/conversations/search`): ranked hits with the
// matched words highlighted, date / model / role filters, and a click that opens the chat at the
// matching message. Snippets arrive HTML-escaped with `<mark>` around matches; they are turned
// into text nodes and <mark> elements here, never parsed as HTML.

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 20;
const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'" };

/** Decodes the character references an HTML-escaping server writes. */
export function decodeEntities(text) {
    return text.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,5});/g, (whole, name) => {
        if (name[0] !== "#") return ENTITIES[name.toLowerCase()] ?? whole;
        const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return code > 0 && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF) ? String.fromCodePoint(code) : whole;
    });
}

/** Appends a snippet: text outside and inside `<mark>…</mark>`; any other markup stays text. */
export function appendSnippet(snippet, parent) {
    let mark = null;
    for (const part of snippet.split(/(<mark>|<\/mark>)/)) {
        if (part === "<mark>") { mark = mark || document.createElement("mark"); continue; }
        if (part === "</mark>") { if (mark) parent.appendChild(mark); mark = null; continue; }
        if (part) (mark || parent).appendChild(document.createTextNode(decodeEntities(part)));
    }
    if (mark) parent.appendChild(mark);
}

function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
}

/** Seconds since 1970 of local midnight of a `yyyy-mm-dd` date input, `days` later. */
function dayStart(value, days = 0) {
    if (!value) return undefined;
    const [year, month, day] = value.split("-").map(Number);
    return new Date(year, month - 1, day + days).getTime() / 1000;
}

export class SearchPanel {
    /** `titleOf(id)` names a conversation if the list knows it; `onActiveChange(active)` toggles list and hits. */
    constructor({ titleOf, onOpen, onActiveChange }) {
        this.titleOf = titleOf;
        this.onOpen = onOpen;
        this.onActiveChange = onActiveChange;
        this.input = $("search");
        this.results = $("search-results");
        this.token = 0;
        this.timer = null;
        this.controller = null;
        this.hits = [];
        this.nextCursor = null;
        this.titles = new Map();
        this.input.addEventListener("input", () => this.schedule());
        this.input.addEventListener("keydown", (event) => {
            if (event.key === "Escape") { this.input.value = ""; this.schedule(0); }
            if (event.key === "Enter") { event.preventDefault(); this.schedule(0); }
        });
        for (const id of ["search-from", "search-to", "search-model", "search-role"]) {
            $(id).addEventListener("change", () => this.schedule(0));
        }
        $("search-filters-toggle").addEventListener("click", () => {
            const filters = $("search-filters");
            filters.hidden = !filters.hidden;
            $("search-filters-toggle").setAttribute("aria-expanded", String(!filters.hidden));
        });
        $("search-clear").addEventListener("click", () => { this.input.value = ""; this.schedule(0); this.input.focus(); });
    }

    /** Fills the model filter with the served models. */
    setModels(ids) {
        const select = $("search-model");
        const chosen = select.value;
        select.replaceChildren(new Option("Any model", ""), ...ids.map((id) => new Option(id, id)));
        select.value = ids.includes(chosen) ? chosen : "";
    }

    get active() { return this.input.value.trim() !== ""; }

    schedule(delay = 250) {
        clearTimeout(this.timer);
        $("search-clear").hidden = !this.active;
        this.timer = setTimeout(() => this.run(), delay);
    }

    request(cursor) {
        const filters = {};
        const from = dayStart($("search-from").value);
        const to = dayStart($("search-to").value, 1);
        if (from !== undefined) filters.from = from;
        if (to !== undefined) filters.to = to;
        if ($("search-model").value) filters.model = $("search-model").value;
        if ($("search-role").value) filters.role = $("search-role").value;
        const body = { query: this.input.value.trim(), limit: PAGE_SIZE };
        if (cursor) body.cursor = cursor;
        if (Object.keys(filters).length) body.filters = filters;
        return body;
    }

    async run(cursor = null) {
        const token = ++this.token;
        this.controller?.abort();
        this.onActiveChange(this.active);
        if (!this.active) { this.results.replaceChildren(); return; }
        this.controller = new AbortController();
        if (!cursor) this.results.setAttribute("aria-busy", "true");
        let page;
        try {
            page = await api.search(this.request(cursor), this.controller.signal);
        } catch (error) {
            if (error.name === "AbortError" || token !== this.token) return;
            this.results.removeAttribute("aria-busy");
            this.results.replaceChildren(element("p", "list-error", error.message));
            return;
        }
        if (token !== this.token) return;
        this.results.removeAttribute("aria-busy");
        this.hits = cursor ? this.hits.concat(page.data) : page.data;
        this.nextCursor = page.next_cursor;
        this.render();
    }

    render() {
        const children = [element("div", "list-group-label", this.hits.length
            ? `${this.hits.length}${this.nextCursor ? "+" : ""} result${this.hits.length === 1 ? "" : "s"}` : "No matches")];
        for (const hit of this.hits) children.push(this.hitView(hit));
        if (this.nextCursor) {
            const more = element("button", "secondary small more-results", "More results");
            more.type = "button";
            more.dataset.testid = "search-more";
            more.addEventListener("click", () => { more.disabled = true; this.run(this.nextCursor); });
            children.push(more);
        }
        this.results.replaceChildren(...children);
    }

    /** The title of a conversation the list has not loaded (yet), fetched once. */
    lookUpTitle(id) {
        if (!this.titles.has(id)) {
            this.titles.set(id, api.conversation(id).then((c) => c.title || "Untitled", () => "Conversation"));
        }
        return this.titles.get(id);
    }

    hitView(hit) {
        const link = element("a", "search-hit");
        link.href = `#/c/${encodeURIComponent(hit.conversation_id)}/m/${encodeURIComponent(hit.message_id)}`;
        link.dataset.testid = "search-hit";
        link.dataset.conversationId = hit.conversation_id;
        link.dataset.messageId = hit.message_id;
        const meta = element("div", "hit-meta");
        const title = element("span", "hit-title", this.titleOf(hit.conversation_id) || "…");
        if (!this.titleOf(hit.conversation_id)) {
            this.lookUpTitle(hit.conversation_id).then((text) => { title.textContent = text; });
        }
        meta.append(
            title,
            element("span", "hit-role", hit.role === "user" ? "you" : hit.role),
            element("time", "hit-date", new Date(hit.created_at * 1000).toLocaleDateString()));
        const snippet = element("div", "hit-snippet");
        snippet.dataset.testid = "search-snippet";
        appendSnippet(hit.snippet || "", snippet);
        link.append(meta, snippet);
        link.addEventListener("click", (event) => {
            event.preventDefault();
            this.onOpen(hit.conversation_id, hit.message_id);
        });
        return link;
    }
}
