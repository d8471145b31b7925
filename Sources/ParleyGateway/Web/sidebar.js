// The conversation list: newest first with pinned ones on top (the server's order), grouped by
// day, loaded page by page as it is scrolled (`next_cursor`), with pin, rename and delete.

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 30;

function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
}

function iconButton(glyph, title, testID, onClick) {
    const node = element("button", "icon-button", glyph);
    node.type = "button";
    node.title = title;
    node.setAttribute("aria-label", title);
    node.dataset.testid = testID;
    node.addEventListener("click", (event) => { event.preventDefault(); event.stopPropagation(); onClick(); });
    return node;
}

/** The label a conversation is listed under. */
function groupOf(item) {
    return item.pinned ? "Pinned" : dayGroup(item.updated_at);
}

/** "Today", "Yesterday", "Previous 7 days", "Previous 30 days" or the month of `seconds`. */
function dayGroup(seconds) {
    const date = new Date(seconds * 1000);
    const today = new Date();
    today.setHours(0, 0, 0, 0);
    const days = Math.floor((today - new Date(date.getFullYear(), date.getMonth(), date.getDate())) / 86400000);
    if (days <= 0) return "Today";
    if (days === 1) return "Yesterday";
    if (days < 7) return "Previous 7 days";
    if (days < 30) return "Previous 30 days";
    return date.toLocaleDateString(undefined, { year: "numeric", month: "long" });
}

export class ConversationList {
    /** `onDeleted(id)` after a conversation was deleted. */
    constructor({ onDeleted }) {
        this.onDeleted = onDeleted;
        this.items = [];
        this.nextCursor = null;
        this.loading = false;
        this.token = 0;
        this.activeID = null;
        this.list = $("conversation-list");
        this.scroller = $("sidebar-scroll");
        this.scroller.addEventListener("scroll", () => this.loadMoreIfNeeded());
        window.addEventListener("resize", () => this.loadMoreIfNeeded());
    }

    /** Title of a loaded conversation, if known. */
    title(id) {
        return this.items.find((item) => item.id === id)?.title ?? null;
    }

    /** Loads the first page again. */
    async refresh() {
        const token = ++this.token;
        this.loading = true;
        try {
            const page = await api.conversations(null, PAGE_SIZE);
            if (token !== this.token) return;
            this.items = page.data;
            this.nextCursor = page.next_cursor;
            this.error = null;
        } catch (error) {
            if (token !== this.token) return;
            this.error = error.message;
        } finally {
            if (token === this.token) this.loading = false;
        }
        this.render();
        this.loadMoreIfNeeded();
    }

    /** Loads the next page when the end of the list is (nearly) in view; its rows are appended. */
    async loadMoreIfNeeded() {
        if (this.loading || !this.nextCursor || this.list.hidden) return;
        const sentinel = $("conversation-sentinel");
        if (!sentinel) return;
        const bottom = this.scroller.getBoundingClientRect().bottom;
        if (sentinel.getBoundingClientRect().top > bottom + 200) return;
        const token = this.token;
        this.loading = true;
        let added = [];
        try {
            const page = await api.conversations(this.nextCursor, PAGE_SIZE);
            if (token !== this.token) return;
            const known = new Set(this.items.map((item) => item.id));
            added = page.data.filter((item) => !known.has(item.id));
            this.nextCursor = page.next_cursor;
        } catch (error) {
            if (token !== this.token) return;
            this.error = error.message;
            this.nextCursor = null;
        } finally {
            if (token === this.token) this.loading = false;
        }
        const last = this.items[this.items.length - 1];
        this.items.push(...added);
        if (this.busy()) { this.stale = true; return; }
        $("conversation-sentinel")?.remove();
        this.list.append(...this.rows(added, last ? groupOf(last) : null), this.sentinel());
        this.loadMoreIfNeeded();
    }

    setActive(id) {
        this.activeID = id;
        for (const node of this.list.querySelectorAll(".conversation-item")) {
            node.classList.toggle("active", node.dataset.conversationId === id);
        }
    }

    /** A row is being renamed or asked to confirm a delete: redrawing now would lose it. */
    busy() {
        return this.list.querySelector(".renaming, .confirming") !== null;
    }

    render() {
        if (this.busy()) { this.stale = true; return; }
        this.stale = false;
        const children = this.rows(this.items, null);
        if (this.items.length === 0 && !this.loading) {
            children.push(element("p", "list-empty", this.error ? "Could not load: " + this.error : "No conversations yet."));
        }
        children.push(this.sentinel());
        this.list.replaceChildren(...children);
    }

    /** Rows of `items` with a group label wherever the group changes (`group`: the one before). */
    rows(items, group) {
        const children = [];
        for (const item of items) {
            const label = groupOf(item);
            if (label !== group) {
                group = label;
                children.push(element("div", "list-group-label", label));
            }
            children.push(this.itemView(item));
        }
        return children;
    }

    sentinel() {
        const sentinel = element("div", "list-sentinel", this.nextCursor ? "Loading…" : "");
        sentinel.id = "conversation-sentinel";
        return sentinel;
    }

    /** Ends a rename or delete question: the row is drawn normally again (with what changed meanwhile). */
    endEditing(row) {
        row.classList.remove("renaming", "confirming");
        this.render();
        this.loadMoreIfNeeded();
    }

    itemView(item) {
        const row = element("div", "conversation-item");
        row.dataset.testid = "conversation-item";
        row.dataset.conversationId = item.id;
        if (item.pinned) row.classList.add("pinned");
        if (item.id === this.activeID) row.classList.add("active");
        const link = element("a", "conversation-link");
        link.href = "#/c/" + encodeURIComponent(item.id);
        link.dataset.testid = "conversation-link";
        link.title = item.title || "Untitled";
        link.appendChild(element("span", "conversation-title", item.title || "Untitled"));
        const actions = element("div", "item-actions");
        actions.append(
            iconButton(item.pinned ? "★" : "☆", item.pinned ? "Unpin" : "Pin", "pin", () => this.pin(item)),
            iconButton("✎", "Rename", "rename", () => this.beginRename(row, item)),
            iconButton("✕", "Delete", "delete", () => this.confirmDelete(row, item)));
        row.append(link, actions);
        return row;
    }

    async pin(item) {
        try {
            await api.updateConversation(item.id, { pinned: !item.pinned });
            await this.refresh();
        } catch (error) {
            alertInList(this.list, error.message);
        }
    }

    beginRename(row, item) {
        const input = element("input", "rename-input");
        input.dataset.testid = "rename-input";
        input.value = item.title || "";
        input.maxLength = 200;
        input.setAttribute("aria-label", "New title");
        let done = false;
        const finish = async (save) => {
            if (done) return;
            done = true;
            const title = input.value.trim();
            if (save && title && title !== item.title) {
                try {
                    await api.updateConversation(item.id, { title });
                    item.title = title;
                    if (item.id === this.activeID) $("chat-title").textContent = title;
                } catch (error) {
                    alertInList(this.list, error.message);
                }
            }
            this.endEditing(row);
        };
        input.addEventListener("keydown", (event) => {
            if (event.key === "Enter") { event.preventDefault(); finish(true); }
            if (event.key === "Escape") { event.preventDefault(); finish(false); }
        });
        input.addEventListener("blur", () => finish(true));
        row.replaceChildren(input);
        row.classList.add("renaming");
        input.focus();
        input.select();
    }

    confirmDelete(row, item) {
        const question = element("span", "confirm-question", "Delete this chat?");
        const yes = element("button", "danger small", "Delete");
        yes.type = "button";
        yes.dataset.testid = "confirm-delete";
        const no = element("button", "secondary small", "Cancel");
        no.type = "button";
        no.dataset.testid = "cancel-delete";
        yes.addEventListener("click", async () => {
            yes.disabled = true;
            try {
                await api.deleteConversation(item.id);
                this.items = this.items.filter((other) => other.id !== item.id);
                this.endEditing(row);
                this.onDeleted(item.id);
            } catch (error) {
                alertInList(this.list, error.message);
                this.endEditing(row);
            }
        });
        no.addEventListener("click", () => this.endEditing(row));
        row.replaceChildren(question, yes, no);
        row.classList.add("confirming");
        no.focus();
    }
}

function alertInList(list, message) {
    const note = element("p", "list-error", message);
    note.setAttribute("role", "alert");
    list.prepend(note);
    setTimeout(() => note.remove(), 4000);
}
