// /join: a party session entered with a join token from the URL fragment, without an account or the
// coordinator. An external coordinator that created the session (POST /v1/sessions) hands out
// <server>/join#token=<token>; `&signal=<WebSocket URL>` names another signalling endpoint.

import { byId, replace } from "./dom.js";
import { notices, notify, setStatus, wireNotice } from "./notices.js";
import { PartySession } from "./session.js";
import { buildSessionView } from "./session-view.js";
import { translateDocument } from "./strings.js";

let session = null;

function fragment() {
  const text = location.hash.replace(/^#/, "");
  const fields = new URLSearchParams(text.includes("=") ? text : `token=${text}`);
  return { token: fields.get("token"), signal: fields.get("signal") };
}

function defaultSignallingURL() {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/v1/signal`;
}

function boot() {
  translateDocument();
  wireNotice();
  const { token, signal } = fragment();
  if (!token) {
    notify("joinNoToken");
    return;
  }
  const view = buildSessionView();
  replace(byId("session-slot"), view.root);
  session = new PartySession({ url: signal || defaultSignallingURL(), token, view, notify, setStatus });
  session.start();
}

window.partyLine = { state: () => ({ notices, session: session?.snapshot() ?? null }) };

boot();
