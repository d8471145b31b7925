// The cluster view: every member as this gateway sees it (`GET /v1/cluster`), polled every second
// while the view is open: roles, state (alive / suspect / dead / left), incarnation, region, and
// per-node figures (streams in flight, tokens/s) when the node reports them.

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const STATES = ["alive", "suspect", "dead", "left"];

function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
}

function figure(value, digits = 0) {
    return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
}

export class ClusterView {
    constructor() {
        this.timer = null;
        this.running = false;
        this.previous = new Map();
    }

    start() {
        if (this.running) return;
        this.running = true;
        this.poll();
    }

    stop() {
        this.running = false;
        clearTimeout(this.timer);
    }

    async poll() {
        if (!this.running) return;
        try {
            this.render(await api.cluster());
            $("cluster-error").hidden = true;
            $("cluster-table").classList.remove("stale");
        } catch (error) {
            $("cluster-error").hidden = false;
            $("cluster-error").textContent = "Cannot reach the gateway: " + error.message + " (retrying)";
            $("cluster-table").classList.add("stale");
        }
        if (this.running) this.timer = setTimeout(() => this.poll(), POLL_MS);
    }

    render(status) {
        const members = [...(status.members || [])].sort((a, b) =>
            STATES.indexOf(a.status) - STATES.indexOf(b.status) || a.name.localeCompare(b.name));
        const counts = Object.fromEntries(STATES.map((state) => [state, 0]));
        let streams = 0;
        let tokens = 0;
        for (const member of members) {
            counts[member.status] = (counts[member.status] || 0) + 1;
            streams += member.stats?.streams_in_flight || 0;
            tokens += member.stats?.tokens_per_second || 0;
        }
        const summary = $("cluster-summary");
        summary.replaceChildren(
            ...STATES.filter((state) => counts[state] || state === "alive").map((state) => {
                const chip = element("span", "summary-chip state-" + state);
                chip.dataset.testid = "cluster-count-" + state;
                chip.append(element("strong", "", String(counts[state])), document.createTextNode(" " + state));
                return chip;
            }),
            element("span", "summary-chip", `${streams} streams in flight`),
            element("span", "summary-chip", `${tokens.toFixed(1)} tokens/s`));
        $("cluster-self").textContent = status.self ? "seen from " + status.self : "";

        const rows = members.map((member) => {
            const row = element("tr");
            row.dataset.testid = "cluster-node";
            row.dataset.nodeName = member.name;
            row.dataset.status = member.status;
            const before = this.previous.get(member.name);
            if (before && before !== member.status) row.classList.add("changed");
            const name = element("td", "node-name", member.name);
            if (member.name === status.self) name.appendChild(element("span", "self-tag", "this gateway"));
            const roles = element("td", "node-roles");
            for (const role of member.roles || []) roles.appendChild(element("span", "role-chip", role));
            const state = element("td");
            const badge = element("span", "state-badge state-" + member.status, member.status);
            badge.dataset.testid = "node-status";
            state.appendChild(badge);
            row.append(
                name,
                element("td", "mono", member.address),
                roles,
                state,
                element("td", "number", String(member.incarnation)),
                element("td", "", member.region || "—"),
                element("td", "number", figure(member.stats?.streams_in_flight)),
                element("td", "number", figure(member.stats?.tokens_per_second, 1)));
            return row;
        });
        this.previous = new Map(members.map((member) => [member.name, member.status]));
        $("cluster-rows").replaceChildren(...rows);
        $("cluster-updated").textContent = "updated " + new Date().toLocaleTimeString();
    }
}
