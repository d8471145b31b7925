// The gateway's HTTP API as the page uses it: the bearer token, JSON requests with OpenAI-style
// errors, and a server-sent-events reader over fetch (EventSource cannot send headers).

const TOKEN_KEY = "parley.token";

/** The API key or OIDC token, kept in localStorage. */
export const auth = {
    get token() { return localStorage.getItem(TOKEN_KEY) || ""; },
    set token(value) {
        if (value) localStorage.setItem(TOKEN_KEY, value);
        else localStorage.removeItem(TOKEN_KEY);
    },
};

/** An error answer of the API (`{"error": {message, type, code}}`), or a network failure (status 0). */
export class APIError extends Error {
    constructor(status, message, code = null) {
        super(message);
        this.status = status;
        this.code = code;
    }
}

function headers(extra = {}) {
    return { Authorization: "Bearer " + auth.token, ...extra };
}

/** The APIError an unsuccessful response stands for; 401 also tells the page to sign in again. */
export async function errorOf(response) {
    let message = response.statusText || "HTTP " + response.status;
    let code = null;
    try {
        const body = await response.json();
        if (body && body.error) { message = body.error.message || message; code = body.error.code || null; }
    } catch { /* not JSON */ }
    if (response.status === 401) window.dispatchEvent(new CustomEvent("parley:unauthorized", { detail: message }));
    return new APIError(response.status, message, code);
}

/** Sends a request; resolves to the response, throws APIError for error statuses and network failures. */
/** `body` is sent as JSON; `rawBody` (a string of JSON, e.g. a file's text) as it is. */
export async function request(path, { method = "GET", body, rawBody, signal, extraHeaders } = {}) {
    const init = { method, signal, headers: headers(extraHeaders) };
    if (body !== undefined || rawBody !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = rawBody !== undefined ? rawBody : JSON.stringify(body);
    }
    let response;
    try {
        response = await fetch(path, init);
    } catch (error) {
        if (error.name === "AbortError") throw error;
        throw new APIError(0, "cannot reach the server (" + error.message + ")", "network");
    }
    if (!response.ok) throw await errorOf(response);
    return response;
}

/** Sends a request and decodes its JSON answer. */
export async function json(path, options) {
    return (await request(path, options)).json();
}

/**
 * Yields the events of an SSE response body as {id, data}; `id` is null for events without one.
 * Comment lines come as {comment} (heartbeats, the gateway's `prompt N/M`). Ends when the body
 * ends; throws when the connection breaks.
 */
export async function* serverSentEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let id = null;
    let data = [];
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            let newline;
            while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
                const line = buffer.slice(0, newline);
                buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
                if (line === "") {
                    if (data.length) yield { id, data: data.join("\n") };
                    id = null;
                    data = [];
                    continue;
                }
                if (line.startsWith(":")) {
                    yield { comment: line.slice(line.startsWith(": ") ? 2 : 1) };
                    continue;
                }
                const colon = line.indexOf(":");
                const field = colon < 0 ? line : line.slice(0, colon);
                let value = colon < 0 ? "" : line.slice(colon + 1);
                if (value.startsWith(" ")) value = value.slice(1);
                if (field === "data") data.push(value);
                else if (field === "id") id = value;
            }
        }
    } finally {
        reader.releaseLock();
    }
}

/**
 * A fresh `Idempotency-Key`: the time (12 hex digits of Unix milliseconds and "-", which the gateway
 * keeps at the head of the request id, so the request's rows are stored in time order), then 128
 * random bits as hex (works outside secure contexts too).
 */
export function randomKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    const time = (Date.now() % 2 ** 48).toString(16).padStart(12, "0");
    return time + "-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// MARK: Endpoints

export const api = {
    models: () => json("/v1/models"),
    conversations: (cursor, limit = 30) =>
        json("/v1/conversations?limit=" + limit + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")),
    conversation: (id) => json("/v1/conversations/" + encodeURIComponent(id)),
    updateConversation: (id, patch) => json("/v1/conversations/" + encodeURIComponent(id), { method: "PATCH", body: patch }),
    deleteConversation: (id) => json("/v1/conversations/" + encodeURIComponent(id), { method: "DELETE" }),
    exportConversation: (id) => request("/v1/conversations/" + encodeURIComponent(id) + "/export"),
    importChatGPT: (text) => json("/v1/conversations/import", { method: "POST", rawBody: text }),
    search: (body, signal) => json("/v1/conversations/search", { method: "POST", body, signal }),
    cluster: () => json("/v1/cluster"),
    cancel: (requestID) => json("/v1/chat/completions/" + encodeURIComponent(requestID) + "/cancel", { method: "POST" }),
    startCompletion: (body, signal, idempotencyKey) =>
        request("/v1/chat/completions", { method: "POST", body, signal, extraHeaders: { "Idempotency-Key": idempotencyKey } }),
    resumeCompletion: (requestID, lastEventID, signal) =>
        request("/v1/chat/completions/" + encodeURIComponent(requestID) + "/stream", {
            signal, extraHeaders: { "Last-Event-ID": String(lastEventID) },
        }),
};
