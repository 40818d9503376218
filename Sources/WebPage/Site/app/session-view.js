// The session screen's elements, built once; the controller (session.js) fills them in.

import { h } from "./dom.js";
import { t } from "./strings.js";

export function buildSessionView() {
  const v = {};
  v.you = h("strong", { id: "you" });
  v.turnTitle = h("h2", { id: "turn-title", class: "turn-title" });
  v.turnRole = h("p", { id: "turn-role", class: "muted small" });
  v.countdown = h("span", { id: "countdown", class: "countdown", "aria-live": "off" });
  v.stopNotice = h("p", { id: "stop-notice", class: "notice-inline", role: "status", hidden: true });

  // Prover stage: the camera preview with the prompt and the verifiers' requests over it.
  v.preview = h("video", { id: "preview", autoplay: true, muted: true, playsinline: true });
  v.proverPrompt = h("p", { id: "prover-prompt", class: "overlay-prompt" });
  v.proverRequests = h("ul", { id: "prover-requests", class: "overlay-requests", "aria-live": "polite" });
  v.proverStatus = h("p", { id: "prover-status", class: "small" });
  v.requestsLabel = h("span", { class: "overlay-label", text: t("proverRequests"), hidden: true });
  v.leave = h("button", { id: "leave", class: "link", type: "button", text: t("leaveTurn") });
  v.proverStage = h(
    "div", { id: "prover-stage", hidden: true },
    h("div", { class: "video-box" }, v.preview,
      h("div", { class: "overlay" }, h("span", { class: "overlay-label", text: t("proverPrompt") }), v.proverPrompt,
        v.requestsLabel, v.proverRequests)),
    v.proverStatus, v.leave);

  // Verifier stage: the prover's video, the committed place, prompt, requests and the vote.
  v.remote = h("video", { id: "remote", autoplay: true, muted: true, playsinline: true });
  v.hiddenNotice = h("p", { id: "hidden-notice", class: "hidden-notice", text: t("videoHidden"), hidden: true });
  v.waitingVideo = h("p", { id: "waiting-video", class: "muted" });
  v.hideVideo = h("button", { id: "hide-video", class: "hide-video", type: "button", text: t("hideVideo") });
  v.location = h("p", { id: "turn-location", class: "small" });
  v.verifierPrompt = h("p", { id: "verifier-prompt", class: "prompt" });
  v.newPrompt = h("button", { id: "new-prompt", class: "secondary compact", type: "button", text: t("verifierNewPrompt") });
  v.requestText = h("input", { id: "request-text", type: "text", maxlength: 500, autocomplete: "off" });
  v.requestSend = h("button", { id: "request-send", class: "compact", type: "submit", text: t("verifierRequestSend") });
  v.requestForm = h("form", { id: "request-form", class: "row" },
    h("label", { for: "request-text", class: "visually-hidden", text: t("verifierRequestLabel") }),
    v.requestText, v.requestSend);
  v.requestText.placeholder = t("verifierRequestLabel");
  v.approve = h("button", { id: "approve", class: "approve", type: "button", text: t("approve") });
  v.deny = h("button", { id: "deny", class: "deny", type: "button", text: t("deny") });
  v.voteStatus = h("p", { id: "vote-status", class: "small", role: "status" });
  v.verifierStage = h(
    "div", { id: "verifier-stage", hidden: true },
    h("div", { class: "video-box verifier" }, v.remote, v.hiddenNotice, v.waitingVideo, v.hideVideo),
    v.location,
    h("div", { class: "row prompt-row" }, h("div", {}, h("span", { class: "label", text: t("verifierPrompt") }), v.verifierPrompt), v.newPrompt),
    v.requestForm,
    h("div", { class: "vote-row" }, v.approve, v.deny), v.voteStatus);

  v.waiting = h("p", { id: "session-waiting", class: "lead", text: t("sessionWaitingForTurns") });
  v.roster = h("ul", { id: "roster", class: "roster" });
  v.order = h("ol", { id: "order", class: "order" });
  v.results = h("ol", { id: "results", class: "results" });
  v.final = h("div", { id: "final", hidden: true });

  v.root = h(
    "section", { id: "session-view", class: "card session" },
    h("p", { class: "you-line small" }, h("span", { text: t("sessionYou") + " " }), v.you),
    h("div", { class: "row spread turn-line" }, v.turnTitle, v.countdown),
    v.stopNotice, v.waiting, v.proverStage, v.verifierStage, v.turnRole,
    h("details", { open: true }, h("summary", { text: t("sessionRoster") }), v.roster),
    h("details", {}, h("summary", { text: t("sessionOrder") }), v.order),
    h("h2", { text: t("resultsTitle") }), v.results, v.final);
  return v;
}
