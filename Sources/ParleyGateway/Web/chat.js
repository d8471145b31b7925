// The chat pane: the visible branch of one conversation, the streamed answer in progress, the
// composer (Enter sends, Shift+Enter is a newline) with its stop button, and the branch actions
// (edit and resend, regenerate, the `‹ 1/2 ›` switcher).

import { api } from "./api.js";
import { Generation } from "./generation.js";
import { messageView, renderBody } from "./messages.js";
import { downloadConversation, importExport } from "./transfer.js";
import { MessageTree } from "./tree.js";

const $ = (id) => document.getElementById(id);
// After an answer ends: how often and how far apart to look for it in the stored conversation.
const ANSWER_READ_ATTEMPTS = 15;
const ANSWER_READ_PAUSE_MS = 150;

export class ChatView {
    /**
     * `getModel()` names the picked model; `getInstructions()` the system message a new chat starts
     * with ("" for none); `onChanged(conversationID)` after a conversation changed.
     */
    constructor({ getModel, getInstructions, onChanged }) {
        this.getModel = getModel;
        this.getInstructions = getInstructions;
        this.onChanged = onChanged;
        this.conversationID = null;
        this.details = null;
        this.tree = new MessageTree();
        this.leafID = null;
        this.highlightID = null;
        this.generation = null;
        this.loadToken = 0;
        this.liveBody = null;
        this.drawPending = false;
        // Between the end of an answer and its stored version on screen: a send then would
        // continue from the wrong message.
        this.settling = false;

        this.messages = $("messages");
        this.prompt = $("prompt");
        this.sendButton = $("send");
        this.stopButton = $("stop");
        $("composer").addEventListener("submit", (event) => { event.preventDefault(); this.sendPrompt(); });
        this.prompt.addEventListener("keydown", (event) => {
            if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); this.sendPrompt(); }
        });
        this.prompt.addEventListener("input", () => this.updateComposer());
        this.stopButton.addEventListener("click", () => this.generation?.stop());
        $("chat-error-close").addEventListener("click", () => this.showError(null));
        $("export-chat").addEventListener("click", () => this.exportOpen());
    }

    // MARK: Navigation

    /** An empty chat: the next prompt starts a new conversation. */
    newChat() {
        this.loadToken += 1;
        this.conversationID = null;
        this.details = null;
        this.tree = new MessageTree();
        this.leafID = null;
        this.highlightID = null;
        this.showError(null);
        this.render();
        this.prompt.focus();
    }

    /** Shows conversation `id`; with `messageID`, on that message's branch, scrolled to and highlighted. */
    async open(id, { messageID = null } = {}) {
        const token = ++this.loadToken;
        if (id !== this.conversationID) {
            this.conversationID = id;
            this.details = null;
            this.tree = new MessageTree();
            this.leafID = null;
            this.messages.replaceChildren(statusLine("Loading…"));
            $("chat-title").textContent = "…";
        }
        this.showError(null);
        let details;
        try {
            details = await api.conversation(id);
        } catch (error) {
            if (token === this.loadToken) { this.messages.replaceChildren(); this.showError(error.message); }
            return;
        }
        if (token !== this.loadToken) return;
        this.setDetails(details);
        let leaf = details.current_message_id && this.tree.get(details.current_message_id)
            ? details.current_message_id : this.tree.newest()?.id ?? null;
        this.highlightID = null;
        if (messageID && this.tree.get(messageID)) {
            if (!this.tree.isOnPath(messageID, leaf)) leaf = this.tree.newestLeafUnder(messageID);
            this.highlightID = messageID;
        }
        this.leafID = leaf;
        this.render();
        if (this.highlightID) {
            document.getElementById("message-" + this.highlightID)?.scrollIntoView({ block: "center" });
        } else {
            this.scrollToBottom();
        }
    }

    setDetails(details) {
        this.details = details;
        this.tree = new MessageTree(details.messages || []);
        $("chat-title").textContent = details.title || "Untitled";
    }

    /**
     * Loads the conversation again after an answer ended and shows its newest message. The answer
     * may become readable a moment after its stream ended: while no assistant message outside
     * `knownIDs` is there, it asks again a few times (not at all when `knownIDs` is null).
     */
    async reloadAfterAnswer(conversationID, knownIDs) {
        this.settling = true;
        try {
            await this.showStoredAnswer(conversationID, knownIDs);
        } finally {
            this.settling = false;
            this.updateComposer();
        }
    }

    async showStoredAnswer(conversationID, knownIDs) {
        const token = ++this.loadToken;
        let details;
        for (let attempt = 0; ; attempt += 1) {
            try { details = await api.conversation(conversationID); } catch (error) { this.showError(error.message); return; }
            if (token !== this.loadToken || conversationID !== this.conversationID) return;
            const arrived = !knownIDs || details.messages.some((m) => m.role === "assistant" && !knownIDs.has(m.id));
            if (arrived || attempt >= ANSWER_READ_ATTEMPTS) break;
            await new Promise((resolve) => setTimeout(resolve, ANSWER_READ_PAUSE_MS));
            if (token !== this.loadToken) return;
        }
        const stick = this.nearBottom();
        this.setDetails(details);
        const newest = this.tree.newest();
        this.leafID = newest ? newest.id : null;
        if (newest && details.current_message_id !== newest.id) {
            api.updateConversation(conversationID, { current_message_id: newest.id }).catch(() => {});
        }
        this.render();
        if (stick) this.scrollToBottom();
    }

    // MARK: Drawing

    /** Is `generation` the answer of the conversation on screen? */
    shows(generation) {
        if (!generation) return false;
        return generation.conversationID ? generation.conversationID === this.conversationID
            : this.conversationID === null && this.details === null;
    }

    render() {
        const generation = this.generation && this.shows(this.generation) ? this.generation : null;
        const leaf = generation ? generation.state.prefixLeafID : this.leafID;
        const busy = this.generation !== null;
        const children = [];
        for (const message of this.tree.path(leaf)) {
            if (message.role === "system" && !message.content) continue;
            const siblings = this.tree.siblings(message).filter((m) => !(m.role === "system" && !m.content));
            children.push(messageView(message, {
                siblings: { index: siblings.indexOf(message), count: siblings.length },
                highlighted: message.id === this.highlightID,
                onSwitch: busy ? null : (delta) => this.switchBranch(message, delta),
                onEdit: busy ? null : (m, text) => this.edit(m, text),
                onRegenerate: busy ? null : (m) => this.regenerate(m),
            }));
        }
        this.liveBody = null;
        if (generation) {
            const state = generation.state;
            if (state.pendingUser !== null && state.pendingUser !== undefined) {
                children.push(messageView({ role: "user", content: state.pendingUser, status: "complete" }));
            }
            const live = messageView({ role: "assistant", content: state.text, model: state.model }, { streaming: true });
            live.id = "live-answer";
            this.liveBody = live.querySelector(".message-body");
            children.push(live);
        }
        if (children.length === 0) children.push(this.emptyState());
        $("export-chat").hidden = !this.conversationID;
        this.messages.replaceChildren(...children);
        if (!this.details) {
            // A new chat is named after its first prompt (as the server will name it).
            const first = generation?.state.pendingUser?.split("\n")[0].trim();
            $("chat-title").textContent = first || "New chat";
        }
        this.updateComposer();
    }

    /** Redraws only the growing answer, at most once a frame. */
    drawLive() {
        if (this.drawPending) return;
        this.drawPending = true;
        requestAnimationFrame(() => {
            this.drawPending = false;
            if (!this.liveBody || !this.generation) return;
            const stick = this.nearBottom();
            renderBody(this.liveBody, "assistant", this.generation.text, true);
            const progress = this.generation.promptProgress;
            if (progress && this.generation.text === "") {
                const line = readingLine(progress);
                const caret = this.liveBody.querySelector(".caret");
                this.liveBody.prepend(line);
                if (caret) line.append(caret);
            }
            const article = this.liveBody.closest("article");
            article.classList.toggle("reconnecting", this.generation.reconnecting);
            if (stick) this.scrollToBottom();
        });
    }

    updateComposer() {
        const running = (this.generation !== null && this.generation.running) || this.settling;
        const mine = this.generation !== null && this.generation.running && this.shows(this.generation);
        this.stopButton.hidden = !mine;
        this.stopButton.disabled = !mine || this.generation.stopRequested;
        this.sendButton.hidden = mine;
        this.sendButton.disabled = running || this.prompt.value.trim() === "";
        this.sendButton.title = running && !mine ? "Another answer is still streaming" : "Send (Enter)";
        this.prompt.style.height = "auto";
        this.prompt.style.height = Math.min(this.prompt.scrollHeight, 240) + "px";
    }

    nearBottom() {
        const pane = this.messages.parentElement;
        return pane.scrollHeight - pane.scrollTop - pane.clientHeight < 80;
    }

    scrollToBottom() {
        const pane = this.messages.parentElement;
        pane.scrollTop = pane.scrollHeight;
    }

    showError(message) {
        $("chat-error").hidden = !message;
        $("chat-error-text").textContent = message || "";
    }

    // MARK: Actions

    sendPrompt() {
        const text = this.prompt.value.trim();
        if (!text || this.generation || this.settling) return;
        this.prompt.value = "";
        const body = { model: this.getModel(), stream: true, messages: [{ role: "user", content: text }] };
        if (this.conversationID) {
            body.conversation_id = this.conversationID;
            if (this.leafID) body.parent_message_id = this.leafID;
        } else {
            const instructions = this.getInstructions();
            if (instructions) body.messages.unshift({ role: "system", content: instructions });
        }
        this.begin(body, { prefixLeafID: this.leafID, pendingUser: text });
    }

    /** A new answer to the user message above `message`: a sibling branch. */
    regenerate(message) {
        if (this.generation || !message.parent_id) return;
        const body = {
            model: this.getModel(), stream: true, conversation_id: this.conversationID,
            parent_message_id: message.parent_id, messages: [],
            seed: Math.floor(Math.random() * 2 ** 31),
        };
        this.begin(body, { prefixLeafID: message.parent_id, pendingUser: null });
    }

    /** `message` rewritten as `text` and sent again: a sibling of `message`. */
    edit(message, text) {
        if (this.generation) return;
        const body = {
            model: this.getModel(), stream: true, conversation_id: this.conversationID,
            parent_message_id: message.parent_id || null, messages: [{ role: "user", content: text }],
        };
        this.begin(body, { prefixLeafID: message.parent_id || null, pendingUser: text });
    }

    /** The empty page of a new chat, with the import of a ChatGPT export. */
    emptyState() {
        const box = emptyStateBox();
        const picker = document.createElement("input");
        picker.type = "file";
        picker.accept = ".json,application/json";
        picker.hidden = true;
        picker.dataset.testid = "import-file";
        const button = document.createElement("button");
        button.type = "button";
        button.className = "ghost small";
        button.dataset.testid = "import-open";
        button.textContent = "Import chats from a ChatGPT export (conversations.json)";
        const status = document.createElement("p");
        status.className = "import-status";
        status.dataset.testid = "import-status";
        status.setAttribute("role", "status");
        button.addEventListener("click", () => picker.click());
        picker.addEventListener("change", async () => {
            const file = picker.files[0];
            if (!file) return;
            button.disabled = true;
            status.textContent = "Importing " + file.name + "…";
            try {
                status.textContent = await importExport(file);
                this.onChanged(null);
            } catch (error) {
                status.textContent = "The import failed: " + error.message;
            } finally {
                button.disabled = false;
                picker.value = "";
            }
        });
        box.append(button, picker, status);
        return box;
    }

    /** Downloads the open conversation in ChatGPT's export format. */
    async exportOpen() {
        if (!this.conversationID) return;
        try {
            await downloadConversation(this.conversationID, this.details?.title);
        } catch (error) {
            this.showError(error.message);
        }
    }

    switchBranch(message, delta) {
        const siblings = this.tree.siblings(message).filter((m) => !(m.role === "system" && !m.content));
        const target = siblings[siblings.indexOf(message) + delta];
        if (!target) return;
        this.leafID = this.tree.newestLeafUnder(target.id);
        this.highlightID = null;
        this.render();
        api.updateConversation(this.conversationID, { current_message_id: this.leafID }).catch(() => {});
    }

    begin(body, context) {
        this.showError(null);
        this.highlightID = null;
        const generation = new Generation(
            { conversationID: this.conversationID, model: body.model, ...context }, this.callbacks());
        generation.knownIDs = new Set(this.tree.byID.keys());
        this.generation = generation;
        this.render();
        this.scrollToBottom();
        generation.start(body);
    }

    /** Picks up the answer a reloaded page was streaming. */
    async resume(saved) {
        const generation = new Generation(saved, this.callbacks());
        generation.knownIDs = new Set();
        this.generation = generation;
        await this.open(saved.conversationID);
        // What is stored now came before this answer (unless it already ended: then the wait for
        // a newer one gives up after a few tries).
        generation.knownIDs = new Set(this.tree.byID.keys());
        generation.resume();
    }

    callbacks() {
        let announced = false;
        return {
            onUpdate: (generation) => {
                if (generation !== this.generation) return;
                if (!announced && generation.conversationID) {
                    announced = true;
                    if (this.conversationID === null && this.details === null && generation.state.prefixLeafID === null) {
                        this.conversationID = generation.conversationID;
                        history.replaceState(null, "", "#/c/" + encodeURIComponent(this.conversationID));
                    }
                    this.onChanged(generation.conversationID);
                }
                if (this.shows(generation)) { this.drawLive(); this.updateComposer(); }
            },
            onEnd: (generation) => {
                if (generation !== this.generation) return;
                this.generation = null;
                const showing = this.shows(generation);
                if (generation.error && showing) this.showError(generation.error.message);
                // Refused before it started (rate limit, bad request): nothing was stored, so the
                // prompt goes back into the composer.
                const refused = generation.requestID === null;
                if (refused && showing && generation.state.pendingUser && !this.prompt.value) {
                    this.prompt.value = generation.state.pendingUser;
                }
                if (generation.conversationID) {
                    // A failed answer may never be stored: no waiting for it then.
                    if (showing) this.reloadAfterAnswer(generation.conversationID, generation.error ? null : generation.knownIDs);
                    if (!refused) this.onChanged(generation.conversationID);
                } else if (showing) {
                    this.render();
                }
                this.updateComposer();
            },
        };
    }
}

function statusLine(text) {
    const line = document.createElement("p");
    line.className = "status-line";
    line.textContent = text;
    return line;
}

/** "Reading your message… 40%": the model is still computing a long prompt. */
function readingLine({ computed, total }) {
    const line = document.createElement("p");
    line.className = "reading-line";
    line.dataset.testid = "prompt-progress";
    const percent = total > 0 ? Math.min(100, Math.floor((computed * 100) / total)) : 0;
    line.textContent = `Reading your message… ${percent}%`;
    return line;
}

function emptyStateBox() {
    const box = document.createElement("div");
    box.className = "empty-state";
    box.dataset.testid = "empty-state";
    const title = document.createElement("h2");
    title.textContent = "What can I help with?";
    const hint = document.createElement("p");
    hint.textContent = "Enter sends, Shift+Enter adds a line. Answers stream as they are written; Stop ends one early.";
    box.append(title, hint);
    return box;
}
