// The branch tree of a conversation, built from the flat message list of
// `GET /v1/conversations/{id}` (every message of every branch, each with its `parent_id`).
// Edits and regenerations are siblings: messages with the same parent.

const ROOT = "";

/** Oldest first: by creation time, then id (ids are time-ordered). */
function compare(a, b) {
    return (a.created_at - b.created_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export class MessageTree {
    constructor(messages = []) {
        this.byID = new Map(messages.map((message) => [message.id, message]));
        this.children = new Map();
        for (const message of messages) {
            const key = this.parentKey(message);
            if (!this.children.has(key)) this.children.set(key, []);
            this.children.get(key).push(message);
        }
        for (const list of this.children.values()) list.sort(compare);
    }

    /** The key of a message's parent; messages whose parent is unknown count as roots. */
    parentKey(message) {
        return message.parent_id && this.byID.has(message.parent_id) ? message.parent_id : ROOT;
    }

    get(id) { return this.byID.get(id); }

    get isEmpty() { return this.byID.size === 0; }

    /** The messages from a root down to `leafID` (empty for an unknown id). */
    path(leafID) {
        const path = [];
        const seen = new Set();
        let message = leafID ? this.byID.get(leafID) : undefined;
        while (message && !seen.has(message.id)) {
            seen.add(message.id);
            path.push(message);
            message = this.parentKey(message) === ROOT ? undefined : this.byID.get(message.parent_id);
        }
        return path.reverse();
    }

    /** The message and its siblings (same parent), oldest first. */
    siblings(message) {
        return this.children.get(this.parentKey(message)) || [message];
    }

    /** The most recently written leaf below (or at) `id`: where switching to that branch lands. */
    newestLeafUnder(id) {
        const start = this.byID.get(id);
        if (!start) return null;
        let best = null;
        const stack = [start];
        while (stack.length) {
            const message = stack.pop();
            const children = this.children.get(message.id) || [];
            if (children.length) stack.push(...children);
            else if (!best || compare(best, message) < 0) best = message;
        }
        return best.id;
    }

    /** Is `ancestorID` on the path from a root to `id`? */
    isOnPath(ancestorID, id) {
        return this.path(id).some((message) => message.id === ancestorID);
    }

    /** The newest message of the conversation, or null. */
    newest() {
        let best = null;
        for (const message of this.byID.values()) if (!best || compare(best, message) < 0) best = message;
        return best;
    }
}
