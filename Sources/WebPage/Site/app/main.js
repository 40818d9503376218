// The party page: the account, the parties, and the party itself when it starts.

import { Account } from "./account.js";
import { Api, ApiError } from "./api.js";
import { AccountKey } from "./keystore.js";
import { byId, copyText, h, replace } from "./dom.js";
import { notices, notify, setStatus, wireNotice } from "./notices.js";
import { Parties, partyPhase } from "./parties.js";
import { PartySession } from "./session.js";
import { buildSessionView } from "./session-view.js";
import { storage } from "./storage.js";
import { t, translateDocument } from "./strings.js";

const api = new Api();
const page = {
  account: null, parties: null, party: null, session: null, sessionId: null, outcome: null, attestation: null,
  finished: new Set(), generation: 0, checking: false,
};
// Not in any group this long after the start: the person was not placed.
const notPlacedAfter = 20;

// The caller's group, session and join token at a party (GET /v1/parties/{id}/me).
const membership = (party) => api.get(`/v1/parties/${party.id}/me`, { account: true });
const sleep = (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds));
const now = () => Date.now() / 1000;

async function boot() {
  translateDocument();
  wireNotice();
  if (!window.isSecureContext) notify("errorNotSecure");
  if (!AccountKey.supported()) {
    notify("errorNoCrypto");
    return;
  }
  page.account = new Account(api, { notify, onChange: refresh });
  page.parties = new Parties(api, page.account, { notify, onJoin: (party) => enterParty(party) });
  byId("parties-refresh").addEventListener("click", () => refresh());
  byId("party-back").addEventListener("click", () => leaveParty());
  try {
    await page.account.open();
    await refresh();
  } catch (error) {
    notify(error instanceof ApiError ? error : "errorServer");
  }
  setInterval(tick, 1000);
}

async function refresh() {
  try {
    await page.account.refresh();
    await page.parties.refresh();
  } catch (error) {
    notify(error);
  }
}

// Every second: redraw the phases, and go to a registered party once it is happening.
let ticks = 0;
async function tick() {
  ticks += 1;
  if (page.party) return;
  if (ticks % 10 === 0) await page.parties.refresh().catch(() => undefined);
  else page.parties.render();
  const registered = page.parties.registered;
  const running = page.parties.list.filter((party) => registered.has(party.id) && partyPhase(party, now()) === "running" && !page.finished.has(party.id));
  if (running.length === 0 || page.checking) return;
  // Go in on its own once the person has a group there (members with an outcome still verify the others):
  // where the person has no outcome yet, else the party that started last.
  page.checking = true;
  try {
    running.sort((a, b) => b.startsAt - a.startsAt);
    const answers = await Promise.all(running.map((party) =>
      membership(party).then((me) => ({ party, me }), () => null)));
    const groups = answers.filter(Boolean);
    const pick = groups.find((answer) => !answer.me.outcome) ?? groups[0];
    if (pick && !page.party) enterParty(pick.party);
  } finally {
    page.checking = false;
  }
}

function leaveParty() {
  const active = page.session && ["turn", "waiting", "connecting"].includes(page.session.state.phase);
  if (active && !confirm(t("leaveConfirm"))) return;
  page.generation += 1;
  page.session?.close();
  page.session = null;
  page.sessionId = null;
  if (page.party) page.finished.add(page.party.id);
  page.party = null;
  page.outcome = null;
  page.attestation = null;
  replace(byId("session-slot"));
  replace(byId("party-outcome"));
  byId("party-outcome").hidden = true;
  byId("party-view").hidden = true;
  byId("account-view").hidden = false;
  byId("parties-view").hidden = false;
  setStatus("statusOnline");
  refresh();
}

// MARK: the party

async function enterParty(party) {
  if (page.party) return;
  page.party = party;
  byId("account-view").hidden = true;
  byId("parties-view").hidden = true;
  byId("register-view").hidden = true;
  byId("party-view").hidden = false;
  window.scrollTo(0, 0);
  byId("party-title").textContent = party.name;
  followGroup(party);
}

// Asks /me until the caller's group has a session it has not joined yet, then joins it: at the start, after an
// undersized group, and after a session was lost (the coordinator makes a new one). One loop at a time.
async function followGroup(party) {
  const generation = ++page.generation;
  const current = () => generation === page.generation;
  const status = byId("party-status");
  let notPlacedSince = null;
  while (current()) {
    let me;
    try {
      me = await membership(party);
    } catch (error) {
      if (!current()) return;
      if (error.code === "not-in-a-group" && now() >= party.startsAt) notPlacedSince ??= now();
      const retry = error.code === "not-in-a-group" || error.code === "network" || error.status >= 500;
      if (!retry || (notPlacedSince !== null && now() - notPlacedSince > notPlacedAfter)) {
        status.textContent = retry ? t("sessionNotPlaced") : notify.describe(error);
        return;
      }
      status.textContent = t("sessionWaitingForStart");
      await sleep(1000);
      continue;
    }
    if (!current()) return;
    if (me.outcome) page.outcome = me.outcome;
    if (me.session && me.token && me.session !== page.sessionId) {
      status.textContent = "";
      joinSession(party, me);
      return;
    }
    if (me.outcome) {
      showOutcome(party);
      return;
    }
    if (now() > party.startsAt + party.duration) {
      status.textContent = t("partyStateEnded");
      return;
    }
    status.textContent = me.waitingForGroup ? t("sessionWaitingForGroup") : t("sessionWaitingForStart");
    await sleep(me.waitingForGroup ? 2000 : 1000);
  }
}

// While the session cannot be reached: asks /me once whether the group has another session now.
async function lookForNewSession(party) {
  const me = await membership(party).catch(() => null);
  if (me?.session && me.token && me.session !== page.sessionId) joinSession(party, me);
}

function joinSession(party, me) {
  page.session?.close();
  page.sessionId = me.session;
  const view = buildSessionView();
  replace(byId("session-slot"), view.root);
  const place = storage.get("places", party.id).catch(() => null);
  page.session = new PartySession({
    url: me.signallingURL, token: me.token, view, notify, setStatus,
    hooks: {
      turnLocation: (turn) => api.get(`/v1/parties/${party.id}/turn-location?turn=${turn}`, { account: true }),
      ownLocation: () => place,
      onFinished: () => showOutcome(party),
      onUndersized: () => sleep(1500).then(() => followGroup(party)),
      // Its node was lost (a cluster makes the group's session again on another node): join the new one.
      onUnreachable: () => lookForNewSession(party),
      // The session is gone or over for this member: a new one (after a restart), or the outcome. A session
      // that had already finished is no error here: its outcome is shown.
      onClosed: (key) => {
        if (key === "left") showOutcome(party);
        else followGroup(party);
        return key === "errorSessionEnded";
      },
    },
  });
  page.session.start();
}

async function showOutcome(party) {
  page.finished.add(party.id);
  const final = byId("party-outcome");
  let me = null;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    me = await membership(party).catch(() => null);
    if (me?.outcome) break;
    await sleep(1000);
  }
  const outcome = me?.outcome ?? page.outcome;
  if (!outcome) return;
  page.outcome = outcome;
  const key = { validated: "partyOutcomeValidated", failed: "partyOutcomeFailed", "no-show": "partyOutcomeNoShow", unplaced: "partyOutcomeUnplaced" }[outcome];
  const slashed = outcome === "failed" || outcome === "no-show" ? Math.floor((party.deposit * party.slashPermille) / 1000) : 0;
  const parts = [h("p", { class: "lead", id: "party-outcome-text", "data-outcome": outcome, text: t("yourOutcome", { outcome: t(key ?? outcome) }) })];
  if (party.deposit > 0) {
    parts.push(h("p", { id: "deposit-text", text: slashed > 0
      ? t("depositSlashed", { slashed, returned: party.deposit - slashed })
      : t("depositReleased", { amount: party.deposit }) }));
  }
  try {
    const attestation = await api.get(`/v1/attestations/${page.account.id}`);
    page.attestation = attestation;
    const text = JSON.stringify(attestation);
    const field = h("textarea", { id: "attestation", readonly: true, rows: 4 });
    field.value = text;
    parts.push(h("h3", { text: t("attestationTitle") }), h("p", { class: "muted", text: t("attestationHelp") }), field,
      h("button", { type: "button", id: "attestation-copy", class: "secondary", text: t("copy"), onclick: async () => {
        if (await copyText(text, field)) notify("copied", {}, "info");
      } }));
  } catch (error) {
    notify(error);
  }
  replace(final, parts);
  final.hidden = false;
  await page.account.refresh().catch(() => undefined);
}

// A read-only view of the page for tests and diagnostics: no token, no key.
window.partyLine = {
  state: () => ({
    account: page.account?.id ?? null,
    level: page.account?.registry?.level ?? null,
    funds: page.account?.funds ?? null,
    party: page.party?.id ?? null,
    outcome: page.outcome,
    attestation: page.attestation,
    sessionId: page.sessionId ?? null,
    notices,
    session: page.session?.snapshot() ?? null,
  }),
};

boot();
