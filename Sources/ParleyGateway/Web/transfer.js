// Moving chats in and out: a ChatGPT export's conversations.json imported from the empty chat
// page, and the open conversation downloaded in ChatGPT's export format.

import { api } from "./api.js";

/** Downloads conversation `id` as `<title>.json` (one conversation in ChatGPT's export format). */
export async function downloadConversation(id, title) {
    const response = await api.exportConversation(id);
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = fileName(title || "conversation") + ".json";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Imports the conversations.json in `file`; answers a sentence saying what came in. */
export async function importExport(file) {
    const text = await file.text();
    const result = await api.importChatGPT(text);
    const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;
    let summary = `Imported ${plural(result.conversations_imported, "conversation")} `
        + `(${plural(result.messages_imported, "message")})`;
    if (result.conversations_skipped > 0) summary += `; ${plural(result.conversations_skipped, "conversation")} already here or empty`;
    return summary + ".";
}

/** A title made safe as a file name. */
function fileName(title) {
    return title.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, " ").replace(/\s+/g, " ").trim().slice(0, 80) || "conversation";
}
