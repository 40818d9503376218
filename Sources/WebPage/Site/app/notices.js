// What the page tells a person: one notice line for errors and confirmations, and the connection status.

import { ApiError } from "./api.js";
import { byId } from "./dom.js";
import { strings, t } from "./strings.js";

// The words for a refused or failed API call.
export function describe(error) {
  if (error instanceof ApiError) {
    if (strings[`code:${error.code}`]) return t(`code:${error.code}`);
    if (error.code === "network") return t("errorNetwork");
    if (error.status === 429) return t("errorRateLimited");
    if (error.status >= 500 || error.status === 0) return t("errorServer");
    return t("errorBadInput", { message: error.message || error.code });
  }
  return t("errorServer");
}

// Shows `what` (a string key, or an error) in the notice line; `level` is "error" or "info".
export function notify(what, values = {}, level = "error") {
  const notice = byId("notice");
  const text = typeof what === "string" ? t(what, values) : describe(what);
  notice.dataset.level = level;
  notice.dataset.key = typeof what === "string" ? what : `code:${what?.code ?? "error"}`;
  byId("notice-text").textContent = text;
  notice.hidden = false;
  clearTimeout(notify.timer);
  // Confirmations go away on their own; errors stay until dismissed or replaced.
  if (level === "info") notify.timer = setTimeout(() => (notice.hidden = true), 5000);
  notices.push({ key: notice.dataset.key, level, at: Date.now() });
}
notify.describe = describe;
// Takes the notice away if it still says `key` (a lost connection, once connected again).
notify.clear = (key) => {
  const notice = byId("notice");
  if (notice.dataset.key === key) notice.hidden = true;
};

export const notices = [];

export function setStatus(key, values = {}) {
  const status = byId("status");
  status.textContent = t(key, values);
  status.dataset.key = key;
}

export function wireNotice() {
  byId("notice-dismiss").addEventListener("click", () => {
    byId("notice").hidden = true;
  });
}
