// One streamed answer: starts it (`POST /v1/chat/completions`, `stream: true`), follows its
// server-sent events, and when the connection breaks (network loss, gateway restart) resumes it
// with `GET /v1/chat/completions/{id}/stream` and `Last-Event-ID`. While it runs, its state sits
// in sessionStorage so a page reload can resume it too (see `Generation.saved()`).

import { api, APIError, randomKey, serverSentEvents } from "./api.js";

const SAVED_KEY = "parley.generation";
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 3000, 5000, 5000, 5000];
/** Waits before sending a start again whose server went away before answering. */
const START_RETRY_DELAYS_MS = [250, 1000, 2000];

// A reload tears the stream down under us: keep the saved state for the next page then.
let unloading = false;
window.addEventListener("pagehide", () => { unloading = true; });

export class Generation {
    /**
     * `context`: what the page needs to draw it again after a reload: {conversationID, prefixLeafID
     * (the shown message the answer follows, null for none), pendingUser (the new user text, or
     * null for a regeneration), model}. `onUpdate(generation)` is called on every change,
     * `onEnd(generation)` once at the end.
     */
    constructor(context, { onUpdate = () => {}, onEnd = () => {} } = {}) {
        this.state = { requestID: null, lastEventID: 0, text: "", ...context };
        this.onUpdate = onUpdate;
        this.onEnd = onEnd;
        this.finishReason = null;
        this.error = null;
        /** {computed, total}: how far the model has read a long prompt, until the answer starts. */
        this.promptProgress = null;
        this.running = true;
        this.stopRequested = false;
        this.reconnecting = false;
        this.controller = new AbortController();
    }

    /** The generation a reloaded page should resume, or null. */
    static saved() {
        try {
            const state = JSON.parse(sessionStorage.getItem(SAVED_KEY) || "null");
            return state && state.requestID ? state : null;
        } catch {
            return null;
        }
    }

    get requestID() { return this.state.requestID; }
    get conversationID() { return this.state.conversationID; }
    get text() { return this.state.text; }

    /** Starts the completion `body` and follows it to the end. */
    async start(body) {
        // The same key on every attempt: a gateway that already started the request replays it.
        const key = randomKey();
        let response;
        for (let attempt = 0; ; attempt++) {
            try {
                response = await api.startCompletion(body, this.controller.signal, key);
                break;
            } catch (error) {
                // The server went away before answering: send the same request again.
                const lost = error instanceof APIError && error.code === "network";
                if (!lost || attempt >= START_RETRY_DELAYS_MS.length || this.controller.signal.aborted) {
                    return this.finish(error);
                }
                await this.pause(START_RETRY_DELAYS_MS[attempt]);
            }
        }
        this.state.requestID = response.headers.get("x-request-id");
        this.state.conversationID = response.headers.get("x-parley-conversation-id") || this.state.conversationID;
        this.save();
        this.onUpdate(this);
        return this.follow(response);
    }

    /** Continues a generation saved by a page that was reloaded. */
    async resume() {
        this.onUpdate(this);
        return this.follow(null);
    }

    /** Asks the server to stop generating; the stream then ends with finish reason `cancelled`. */
    async stop() {
        if (!this.running) return;
        this.stopRequested = true;
        this.onUpdate(this);
        if (!this.state.requestID) { this.controller.abort(); return; }
        try {
            await api.cancel(this.state.requestID);
        } catch (error) {
            // 404: it already ended; the stream ends on its own.
            if (error.status !== 404) this.controller.abort();
        }
    }

    /** Reads `response` (or resumes when null) until `[DONE]`, reconnecting after breaks. */
    async follow(response) {
        let failures = 0;
        for (;;) {
            if (!response) {
                try {
                    response = await api.resumeCompletion(this.state.requestID, this.state.lastEventID, this.controller.signal);
                    this.reconnecting = false;
                    this.onUpdate(this);
                } catch (error) {
                    if (error.name === "AbortError") return this.finish(null);
                    if (error.status !== 0 && error.status < 500) return this.finish(error);
                    if (failures >= RECONNECT_DELAYS_MS.length) return this.finish(error);
                    await this.pause(RECONNECT_DELAYS_MS[failures++]);
                    continue;
                }
            }
            try {
                for await (const event of serverSentEvents(response)) {
                    if (this.handle(event)) return this.finish(this.error);
                    failures = 0;
                }
            } catch (error) {
                if (error.name === "AbortError" || this.controller.signal.aborted) return this.finish(null);
            }
            // The body ended or broke before `[DONE]`: resume after the last event seen.
            response = null;
            if (failures >= RECONNECT_DELAYS_MS.length) return this.finish(new APIError(0, "the connection was lost"));
            this.reconnecting = true;
            this.onUpdate(this);
            await this.pause(RECONNECT_DELAYS_MS[failures++]);
        }
    }

    pause(ms) {
        return new Promise((resolve) => setTimeout(resolve, ms));
    }

    /** Applies one event; true when the stream is over. */
    handle(event) {
        if (event.comment !== undefined) {
            const progress = /^prompt (\d+)\/(\d+)$/.exec(event.comment);
            if (progress && this.state.text === "") {
                this.promptProgress = { computed: Number(progress[1]), total: Number(progress[2]) };
                this.onUpdate(this);
            }
            return false;
        }
        if (event.data === "[DONE]") return true;
        let chunk;
        try { chunk = JSON.parse(event.data); } catch { return false; }
        if (chunk.error) {
            this.error = new APIError(500, chunk.error.message || "the answer failed", chunk.error.code);
            return true;
        }
        for (const choice of chunk.choices || []) {
            const delta = choice.delta || {};
            if (typeof delta.content === "string" && delta.content) {
                this.closeToolCall();
                this.state.text += delta.content;
            }
            // Tool calls (an answer resumed from the log reads its calls out): kept as the markup the
            // answer stores, so the page draws them as it draws stored ones.
            for (const call of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) {
                const fn = call && call.function ? call.function : {};
                if (typeof fn.name === "string") {
                    this.closeToolCall();
                    this.state.text += '<tool_call>\n{"name": ' + JSON.stringify(fn.name) + ', "arguments": ';
                    this.state.openToolCall = true;
                }
                if (typeof fn.arguments === "string" && this.state.openToolCall) this.state.text += fn.arguments;
            }
            if (choice.finish_reason) {
                this.closeToolCall();
                this.finishReason = choice.finish_reason;
            }
        }
        if (event.id !== null && /^\d+$/.test(event.id)) this.state.lastEventID = Number(event.id);
        this.save();
        this.onUpdate(this);
        return false;
    }

    /** Ends the markup of a tool call whose arguments were streaming. */
    closeToolCall() {
        if (!this.state.openToolCall) return;
        this.state.text += "}\n</tool_call>";
        this.state.openToolCall = false;
    }

    save() {
        try { sessionStorage.setItem(SAVED_KEY, JSON.stringify(this.state)); } catch { /* full or disabled */ }
    }

    finish(error) {
        if (!this.running || unloading) return;
        this.running = false;
        this.reconnecting = false;
        if (error && error.name !== "AbortError") this.error = error;
        sessionStorage.removeItem(SAVED_KEY);
        this.onEnd(this);
    }
}
