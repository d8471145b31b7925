// Parley's web page: sign-in, the routes (`#/` new chat, `#/c/ID` a conversation, `#/c/ID/m/MSG`
// a conversation at one message, `#/cluster` the cluster view), the model picker and keyboard
// shortcuts. The views live in chat.js, sidebar.js, search.js and cluster.js.

import { api, auth } from "./api.js";
import { ChatView } from "./chat.js";
import { ClusterView } from "./cluster.js";
import { Generation } from "./generation.js";
import { SearchPanel } from "./search.js";
import { ConversationList } from "./sidebar.js";

const $ = (id) => document.getElementById(id);
const MODEL_KEY = "parley.model";
const INSTRUCTIONS_KEY = "parley.instructions";

let chat;
let list;
let search;
let cluster;
let started = false;

// MARK: Sign-in

function showSignIn(message) {
    $("app").hidden = true;
    $("signin").hidden = false;
    $("signin-error").hidden = !message;
    $("signin-error").textContent = message || "";
    cluster?.stop();
    $("token").focus();
}

async function signIn(event) {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    $("signin-button").disabled = true;
    auth.token = token;
    try {
        await loadModels();
        $("token").value = "";
        enterApp();
    } catch (error) {
        auth.token = "";
        showSignIn(error.status === 401 ? "That key or token was not accepted." : error.message);
    } finally {
        $("signin-button").disabled = false;
    }
}

function signOut() {
    auth.token = "";
    sessionStorage.clear();
    location.hash = "#/";
    showSignIn(null);
}

// MARK: Models

async function loadModels() {
    const page = await api.models();
    const ids = page.data.map((model) => model.id);
    const select = $("model");
    const saved = localStorage.getItem(MODEL_KEY);
    select.replaceChildren(...ids.map((id) => new Option(id, id)));
    if (ids.length === 0) select.appendChild(new Option("no model is being served", ""));
    select.value = ids.includes(saved) ? saved : ids[0] || "";
    search?.setModels(ids);
    return ids;
}

// MARK: Routes

function parseRoute() {
    const hash = decodeURIComponent(location.hash.replace(/^#/, ""));
    const parts = hash.split("/").filter(Boolean);
    if (parts[0] === "cluster") return { view: "cluster" };
    if (parts[0] === "c" && parts[1]) return { view: "chat", conversationID: parts[1], messageID: parts[2] === "m" ? parts[3] : null };
    return { view: "chat", conversationID: null, messageID: null };
}

function route() {
    const target = parseRoute();
    const onCluster = target.view === "cluster";
    $("chat-view").hidden = onCluster;
    $("cluster-view").hidden = !onCluster;
    $("tab-chat").classList.toggle("active", !onCluster);
    $("tab-cluster").classList.toggle("active", onCluster);
    document.body.classList.remove("sidebar-open");
    if (onCluster) {
        document.title = "Cluster · Parley";
        cluster.start();
        return;
    }
    cluster.stop();
    document.title = "Parley";
    list.setActive(target.conversationID);
    if (!target.conversationID) chat.newChat();
    else chat.open(target.conversationID, { messageID: target.messageID });
}

/** Goes to `hash`, routing again even when it is already the current one. */
function navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
}

// MARK: Start

function enterApp() {
    $("signin").hidden = true;
    $("app").hidden = false;
    if (!started) {
        started = true;
        list = new ConversationList({
            onDeleted: (id) => { if (chat.conversationID === id) navigate("#/"); },
        });
        search = new SearchPanel({
            titleOf: (id) => list.title(id),
            onOpen: (conversationID, messageID) =>
                navigate(`#/c/${encodeURIComponent(conversationID)}/m/${encodeURIComponent(messageID)}`),
            onActiveChange: (active) => {
                $("conversation-list").hidden = active;
                $("search-results").hidden = !active;
                if (!active) list.loadMoreIfNeeded();
            },
        });
        chat = new ChatView({
            getModel: () => $("model").value,
            getInstructions: () => (localStorage.getItem(INSTRUCTIONS_KEY) || "").trim(),
            onChanged: (id) => { list.refresh().then(() => list.setActive(chat.conversationID ?? id)); },
        });
        cluster = new ClusterView();
        window.addEventListener("hashchange", route);
        bindKeys();
    }
    loadModels().then((ids) => search.setModels(ids)).catch(() => {});
    list.refresh();
    const saved = Generation.saved();
    if (saved && saved.conversationID) {
        history.replaceState(null, "", "#/c/" + encodeURIComponent(saved.conversationID));
        list.setActive(saved.conversationID);
        chat.resume(saved);
    } else {
        route();
    }
}

function bindKeys() {
    $("model").addEventListener("change", () => localStorage.setItem(MODEL_KEY, $("model").value));
    $("new-chat").addEventListener("click", () => navigate("#/"));
    $("sign-out").addEventListener("click", signOut);
    bindInstructions();
    for (const toggle of document.querySelectorAll(".sidebar-toggle")) {
        toggle.addEventListener("click", () => document.body.classList.toggle("sidebar-open"));
    }
    document.addEventListener("keydown", (event) => {
        const mod = event.ctrlKey || event.metaKey;
        if (mod && event.key.toLowerCase() === "k") { event.preventDefault(); $("search").focus(); $("search").select(); }
        if (mod && event.shiftKey && event.key.toLowerCase() === "o") { event.preventDefault(); navigate("#/"); }
        if (event.key === "Escape" && chat.generation && document.activeElement === $("prompt")) chat.generation.stop();
    });
}

// MARK: Instructions

/** The instructions dialog: text kept in this browser, sent as a new chat's system message. */
function bindInstructions() {
    const dialog = $("instructions-dialog");
    $("instructions-open").addEventListener("click", () => {
        $("instructions-text").value = localStorage.getItem(INSTRUCTIONS_KEY) || "";
        dialog.showModal();
        $("instructions-text").focus();
    });
    $("instructions-cancel").addEventListener("click", () => dialog.close());
    $("instructions-form").addEventListener("submit", () => {
        const text = $("instructions-text").value.trim();
        if (text) localStorage.setItem(INSTRUCTIONS_KEY, text);
        else localStorage.removeItem(INSTRUCTIONS_KEY);
        $("instructions-open").classList.toggle("active", !!text);
    });
    $("instructions-open").classList.toggle("active", !!localStorage.getItem(INSTRUCTIONS_KEY));
}

window.addEventListener("parley:unauthorized", (event) => {
    if (!$("app").hidden) showSignIn("Your key or token was refused (" + event.detail + "). Sign in again.");
});

function boot() {
    $("signin-form").addEventListener("submit", signIn);
    if (auth.token) enterApp();
    else showSignIn(null);
}

boot();
