// A member's party session: the signalling connection, the turn in progress, and the screen. The server
// decides everything (turn order, who may talk to whom, votes, the stop); this page only shows it and
// carries out its part.

import { h, replace, show } from "./dom.js";
import { ProverMedia } from "./prover.js";
import { SignallingConnection } from "./signalling.js";
import { t } from "./strings.js";
import { VerifierMedia } from "./verifier.js";
import { CameraError } from "./camera.js";
import { distanceText } from "./geo.js";

// Vote buttons stay disabled this long after a turn starts.
const voteArmingMillis = 1000;
// A prover's camera stays on this long while the signalling connection is down (the server's reconnect grace).
const disconnectedCameraMillis = 15_000;

const outcomeKeys = { approved: "outcomeApproved", denied: "outcomeDenied", noShow: "outcomeNoShow", incomplete: "outcomeIncomplete" };

const joinErrors = {
  "expired-token": "errorTokenExpired",
  "malformed-token": "errorTokenInvalid",
  "forged-token": "errorTokenInvalid",
  "session-not-found": "errorSessionNotFound",
  "session-finished": "errorSessionEnded",
  "not-a-member": "errorSessionFull",
  "unsupported-version": "errorSessionFull",
  "storage-unavailable": "errorStorage",
};

export class PartySession {
  constructor({ url, token, view, notify, setStatus, hooks = {} }) {
    this.view = view;
    this.notify = notify;
    this.setStatus = setStatus;
    this.hooks = hooks;
    this.state = {
      phase: "connecting", you: null, roster: [], order: [], presence: {}, turn: null, results: [],
      sessionResult: null, undersized: null, vote: null, voteAck: null, hiddenTurns: [], errors: [],
      requests: [], prompt: null,
    };
    this.metrics = [];
    this.prover = null;
    this.verifier = null;
    this.deadline = null;
    this.votableAt = 0;
    this.voteSentFor = null;
    this.disconnectTimer = null;
    this.timer = setInterval(() => this.renderCountdown(), 250);
    this.connection = new SignallingConnection(url, token, {
      onMessage: (message) => this.receive(message),
      onState: (state, detail) => this.connectionState(state, detail),
    });
    this.wire();
  }

  start() {
    this.connection.start();
  }

  wire() {
    const v = this.view;
    v.approve.addEventListener("click", () => this.vote("approve"));
    v.deny.addEventListener("click", () => this.vote("deny"));
    v.hideVideo.addEventListener("click", () => this.hideVideo());
    v.newPrompt.addEventListener("click", () => this.connection.send({ type: "request-prompt" }));
    v.requestForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = v.requestText.value.trim();
      if (!text) return;
      if (this.connection.send({ type: "request", text })) v.requestText.value = "";
    });
    v.leave.addEventListener("click", () => {
      if (!confirm(t("leaveConfirm"))) return;
      this.connection.send({ type: "leave" });
      this.stopMedia(t("stopLeft"));
      this.connection.stop();
      this.state.phase = "left";
      this.state.turn = null;
      this.setStatus("statusOffline");
      this.renderTurn();
      this.hooks.onClosed?.("left");
    });
  }

  connectionState(state, detail) {
    this.state.connection = state;
    if (state !== "reconnecting") {
      clearTimeout(this.disconnectTimer);
      this.disconnectTimer = null;
    }
    if (state === "online") {
      this.setStatus("statusOnline");
      this.notify.clear?.("errorConnectionLost");
    }
    else if (state === "connecting") this.setStatus("statusConnecting");
    else if (state === "reconnecting") this.reconnecting(detail.attempt);
    else if (state === "closed") this.closed(detail);
    else if (state === "failed") this.fail("errorBadSignallingURL");
  }

  reconnecting(attempt) {
    this.setStatus("statusReconnecting", { attempt });
    if (attempt === 2) this.notify("errorConnectionLost");
    // The node running the session may be gone for good: the party page asks whether the group has a new one.
    if (attempt >= 2) this.hooks.onUnreachable?.();
    // The server ends a dropped prover's turn after its reconnect grace; the camera does not wait longer.
    if (this.prover && !this.disconnectTimer) {
      this.disconnectTimer = setTimeout(() => this.stopMedia(t("stopDisconnected")), disconnectedCameraMillis);
    }
  }

  closed({ code, error }) {
    this.setStatus("statusOffline");
    if (this.state.phase === "finished" || this.state.phase === "left") return;
    if (code === 4001) this.fail("errorReplaced");
    else if (error && joinErrors[error.code]) this.fail(joinErrors[error.code]);
    else if (code === 1000 && this.state.undersized) return;
    else this.fail("errorSessionEnded");
  }

  // The session is over for this page. The party page may take it from here quietly (a finished session
  // shows the outcome); otherwise the person is told why.
  fail(key) {
    this.state.errors.push(key);
    this.stopMedia(null);
    if (!this.hooks.onClosed?.(key)) this.notify(key);
  }

  receive(message) {
    switch (message.type) {
      case "welcome": return this.welcome(message);
      case "turn-start": return this.turnStart(message);
      case "offer": return this.verifier?.offer(message.from, message.sdp);
      case "answer": return this.prover?.answer(message.from, message.sdp);
      case "candidate":
        this.prover?.candidate(message.from, message.candidate);
        this.verifier?.candidate(message.from, message.candidate);
        return;
      case "request": return this.request(message);
      case "prompt": return this.prompt(message);
      case "vote-ack": return this.voteAck(message);
      case "presence": return this.presence(message);
      case "stream-stop": return this.streamStop(message);
      case "turn-result": return this.turnResult(message);
      case "undersized": return this.undersized(message);
      case "session-result": return this.sessionResult(message);
      case "error": return this.serverError(message);
      default: return undefined;
    }
  }

  welcome(message) {
    const s = this.state;
    s.phase = "waiting";
    s.you = message.you;
    s.roster = message.roster;
    s.order = message.order;
    s.results = message.results ?? [];
    // Presence is known from `presence` messages only; until one arrives a member's is not shown.
    s.presence[s.you] = "joined";
    this.view.you.textContent = s.you;
    this.renderRoster();
    this.renderResults();
    if (message.turn) {
      this.turnStart(message.turn, { resumed: message.resumed });
    } else if (s.turn) {
      // The turn was decided while this page was away: its stream-stop and result were missed.
      this.endTurn();
    } else {
      this.renderTurn();
    }
  }

  turnStart(turn, { resumed = false } = {}) {
    const s = this.state;
    const same = s.turn?.turn === turn.turn && s.turn?.role === turn.role;
    if (same && !resumed) return;
    if (same && (this.prover || this.verifier)) {
      // Only the signalling connection dropped: the media still flows. A prover offers again to the verifiers
      // whose connection did not make it; a verifier waits for the prover's offers.
      s.turn = turn;
      this.deadline = performance.now() + turn.timeLeftMillis;
      if (turn.voted && !s.vote) s.vote = "counted";
      this.prover?.reofferUnconnected();
      this.renderTurn();
      return;
    }
    this.stopMedia(null);
    s.phase = "turn";
    s.turn = turn;
    s.prompt = turn.prompt;
    s.requests = [];
    s.vote = turn.voted ? "counted" : null;
    s.voteAck = null;
    this.deadline = performance.now() + turn.timeLeftMillis;
    // A tap meant for the turn that just ended must not count for this one.
    this.votableAt = performance.now() + voteArmingMillis;
    setTimeout(() => this.renderVote(), voteArmingMillis + 10);
    const metric = { turn: turn.turn, role: turn.role, prover: turn.prover, turnStartAt: Date.now(), stopAt: null };
    this.metrics.push(metric);
    this.view.stopNotice.hidden = true;
    replace(this.view.proverRequests);
    this.view.requestsLabel.hidden = true;
    this.renderTurn();
    if (turn.role === "prover") this.startProving(turn, metric);
    else if (turn.role === "verifier") this.startVerifying(turn, metric);
  }

  startProving(turn, metric) {
    const v = this.view;
    this.prover = new ProverMedia(turn, {
      send: (message) => this.connection.send(message),
      onProblem: (kind) => this.relayProblem(kind),
      onLinkState: () => this.renderProverStatus(),
    });
    metric.camera = "opening";
    this.prover.start(v.preview).then(
      () => {
        metric.camera = this.prover?.trackState ?? "stopped";
        this.renderProverStatus();
      },
      (error) => {
        metric.camera = "failed";
        const key = error instanceof CameraError
          ? { denied: "errorCameraDenied", "no-rear-camera": "errorNoRearCamera" }[error.kind] ?? "errorCameraFailed"
          : "errorCameraFailed";
        this.state.errors.push(key);
        this.notify(key, { detail: error.message });
      });
  }

  startVerifying(turn, metric) {
    const v = this.view;
    v.remote.hidden = this.state.hiddenTurns.includes(turn.turn);
    v.hiddenNotice.hidden = !v.remote.hidden;
    v.waitingVideo.hidden = false;
    v.waitingVideo.textContent = t("verifierWaitingForVideo", { prover: turn.prover });
    this.verifier = new VerifierMedia(turn, v.remote, {
      send: (message) => this.connection.send(message),
      onProblem: (kind) => this.relayProblem(kind),
      onFirstFrame: () => {
        v.waitingVideo.hidden = true;
      },
    });
    metric.media = this.verifier.metrics;
    this.showLocation(turn);
  }

  async showLocation(turn) {
    const v = this.view;
    replace(v.location);
    if (!this.hooks.turnLocation) return;
    try {
      const place = await this.hooks.turnLocation(turn.turn);
      if (this.state.turn?.turn !== turn.turn) return;
      const lines = [h("span", { text: t("verifierLocation", { prover: place.pseudonym, latitude: place.latitude.toFixed(5), longitude: place.longitude.toFixed(5) }) })];
      const own = await this.hooks.ownLocation?.();
      if (own) lines.push(h("span", { class: "distance", text: " · " + t("verifierLocationDistance", { distance: distanceText(own, place) }) }));
      if (place.description) lines.push(h("span", { class: "description", text: " " + t("verifierLocationDescription", { description: place.description }) }));
      replace(v.location, lines);
    } catch {
      if (this.state.turn?.turn === turn.turn) replace(v.location, h("span", { text: t("verifierLocationUnavailable") }));
    }
  }

  relayProblem(kind) {
    const key = kind === "refused" ? "errorRelayRefused" : "errorRelayUnreachable";
    // Once the turn is decided the relay refusing the credentials is the stop working, not an error.
    if (this.state.phase !== "turn") return;
    if (kind === "refused" && this.prover) {
      // The relay tears the turn's allocations down once it is decided; the camera goes off with them.
      this.stopMedia(t("stopRelay"));
      return;
    }
    if (!this.state.errors.includes(key)) this.state.errors.push(key);
    this.notify(key);
  }

  request(message) {
    this.state.requests.push({ from: message.from, text: message.text });
    const items = this.state.requests.slice(-3).map((request) => h("li", {}, h("b", { text: request.from + ": " }), request.text));
    replace(this.view.proverRequests, items);
    this.view.requestsLabel.hidden = items.length === 0;
  }

  prompt(message) {
    if (message.turn !== this.state.turn?.turn) return;
    this.state.prompt = message.text;
    this.view.proverPrompt.textContent = message.text;
    this.view.verifierPrompt.textContent = message.text;
  }

  vote(choice) {
    const turn = this.state.turn;
    if (!turn || turn.role !== "verifier" || this.state.vote || performance.now() < this.votableAt) return;
    this.state.vote = choice;
    this.voteSentFor = turn.turn;
    this.renderVote();
    if (!this.connection.send({ type: "vote", turn: turn.turn, vote: choice })) {
      this.state.vote = null;
      this.renderVote();
      this.notify("errorConnectionLost");
    }
  }

  voteAck(message) {
    if (message.turn !== this.state.turn?.turn) return;
    this.state.vote = message.vote;
    this.state.voteAck = message.vote;
    this.renderVote();
  }

  hideVideo() {
    const turn = this.state.turn;
    const v = this.view;
    v.remote.hidden = true;
    v.hiddenNotice.hidden = false;
    if (turn && !this.state.hiddenTurns.includes(turn.turn)) this.state.hiddenTurns.push(turn.turn);
  }

  presence(message) {
    this.state.presence[message.pseudonym] = message.state;
    this.renderRoster();
    if (message.state === "joined") this.prover?.verifierJoined(message.pseudonym);
  }

  streamStop(message) {
    const metric = this.metrics.findLast((each) => each.turn === message.turn);
    if (metric) metric.stopAt = Date.now();
    this.stopMedia(t("stopDecided"));
  }

  // Releases the camera and closes the connections of the turn; `reason` is shown to the person.
  stopMedia(reason) {
    const metric = this.metrics.at(-1);
    if (this.prover) {
      this.prover.stop();
      if (metric) {
        metric.camera = this.prover.trackState;
        metric.cameraReleasedAt = Date.now();
      }
      this.prover = null;
      this.view.preview.srcObject = null;
      if (reason) this.showStop(t("streamStopped", { reason }) + " " + t("cameraReleased"));
    }
    if (this.verifier) {
      this.verifier.stop();
      this.verifier = null;
      this.view.remote.srcObject = null;
    }
    this.renderTurn();
  }

  // The turn on screen is decided: its media stop (the screen says so) and the page waits for the next.
  endTurn() {
    this.stopMedia(t("stopDecided"));
    this.state.turn = null;
    this.state.phase = "waiting";
    this.renderTurn();
  }

  showStop(text) {
    this.view.stopNotice.textContent = text;
    this.view.stopNotice.hidden = false;
  }

  turnResult(message) {
    if (!this.state.results.some((result) => result.turn === message.turn)) this.state.results.push(message);
    if (message.outcome === "incomplete") this.state.order.push(message.prover);
    if (this.state.turn?.turn === message.turn) this.endTurn();
    else this.renderTurn();
    this.renderResults();
  }

  undersized(message) {
    this.state.undersized = message;
    this.state.phase = "undersized";
    this.notify("undersized", { present: message.present, minimum: message.minimum });
    this.hooks.onUndersized?.(message);
  }

  sessionResult(message) {
    this.stopMedia(null);
    this.state.sessionResult = message.results;
    this.state.turn = null;
    this.state.phase = this.state.undersized ? "undersized" : "finished";
    this.renderTurn();
    this.renderResults();
    if (!this.state.undersized) this.hooks.onFinished?.(message.results);
  }

  serverError(message) {
    if (joinErrors[message.code]) return; // reported when the server closes the connection
    const s = this.state;
    // A vote refusal answers the vote this page sent last; one sent for a turn that has since ended changes
    // nothing of the turn on screen.
    const forThisTurn = s.turn && this.voteSentFor === s.turn.turn && s.vote && !s.voteAck;
    if ((message.code === "already-voted" || message.code === "wrong-turn") && forThisTurn) {
      s.vote = "counted";
      this.renderVote();
    }
    if (message.code === "rate-limited") {
      // A vote refused for the rate did not count: it may be cast again.
      if (forThisTurn && s.vote !== "counted") {
        s.vote = null;
        this.renderVote();
      }
      this.notify("errorRateLimited");
    }
    if (message.code === "no-turn" && forThisTurn) this.endTurn();
  }

  // MARK: rendering

  renderTurn() {
    const s = this.state;
    const v = this.view;
    const turn = s.turn;
    show(v.waiting, !turn && s.phase === "waiting" && s.results.length === 0);
    show(v.proverStage, Boolean(turn && turn.role === "prover"));
    show(v.verifierStage, Boolean(turn && turn.role === "verifier"));
    if (!turn) {
      v.turnTitle.textContent = s.phase === "finished" ? t("sessionOver") : "";
      v.turnRole.textContent = "";
      v.countdown.textContent = "";
      return;
    }
    v.turnTitle.textContent = t("sessionTurn", { number: turn.turn + 1, count: Math.max(s.order.length, turn.turn + 1) })
      + " · " + (turn.role === "prover" ? t("sessionYourTurnTitle") : t("sessionProverIs", { prover: turn.prover }));
    v.turnRole.textContent = turn.role === "prover" ? t("sessionYourTurn")
      : turn.role === "verifier" ? t("sessionYouVerify", { prover: turn.prover }) : t("sessionYouObserve");
    v.proverPrompt.textContent = s.prompt ?? "";
    v.verifierPrompt.textContent = s.prompt ?? "";
    this.renderVote();
    this.renderProverStatus();
    this.renderCountdown();
  }

  renderVote() {
    const v = this.view;
    const s = this.state;
    const locked = Boolean(s.vote) || performance.now() < this.votableAt;
    v.approve.disabled = locked;
    v.deny.disabled = locked;
    v.approve.classList.toggle("chosen", s.vote === "approve");
    v.deny.classList.toggle("chosen", s.vote === "deny");
    if (s.voteAck) v.voteStatus.textContent = t("voteAcked", { vote: t(s.voteAck === "approve" ? "voteApprove" : "voteDeny") });
    else if (s.vote === "counted") v.voteStatus.textContent = t("voteCounted");
    else if (s.vote) v.voteStatus.textContent = t("voteSending");
    else v.voteStatus.textContent = "";
  }

  renderProverStatus() {
    const v = this.view;
    if (!this.prover) {
      v.proverStatus.textContent = "";
      return;
    }
    const connected = Object.values(this.prover.linkStates()).filter((state) => state === "connected").length;
    v.proverStatus.textContent = connected > 0 ? t("proverStreaming", { count: connected }) : t("proverConnecting");
  }

  renderCountdown() {
    if (!this.state.turn || this.deadline === null) return;
    const seconds = Math.max(0, Math.ceil((this.deadline - performance.now()) / 1000));
    this.view.countdown.textContent = t("sessionTimeLeft", { seconds });
    this.renderProverStatus();
  }

  renderRoster() {
    const s = this.state;
    const items = s.roster.map((member) => h("li", { class: member === s.you ? "me" : "" },
      h("span", { text: member }), " ",
      s.presence[member] ? h("span", { class: "presence " + s.presence[member], text: t(presenceKey(s.presence[member])) }) : null));
    replace(this.view.roster, items);
    const decided = new Map(s.results.map((result) => [result.prover, result.outcome]));
    replace(this.view.order, s.order.map((member) => h("li", { class: s.turn?.prover === member ? "current" : "" },
      member + (decided.has(member) ? " — " + t(outcomeKeys[decided.get(member)] ?? decided.get(member)) : ""))));
  }

  renderResults() {
    const items = this.state.results.map((result) => h("li", { class: "result " + result.outcome, text: t("turnResult", {
      prover: result.prover, outcome: t(outcomeKeys[result.outcome] ?? result.outcome), approvals: result.approvals,
      denials: result.denials, threshold: result.threshold,
    }) }));
    replace(this.view.results, items);
    this.renderRoster();
    if (this.state.sessionResult) {
      const mine = this.state.sessionResult.find((result) => result.pseudonym === this.state.you);
      this.view.final.hidden = false;
      replace(this.view.final, h("p", { class: "lead", id: "session-outcome", text: t("sessionOver") + (mine
        ? " " + t("yourOutcome", { outcome: t(outcomeKeys[mine.outcome] ?? mine.outcome) }) : "") }));
    }
  }

  // A plain snapshot for tests and diagnostics: no token, no key.
  snapshot() {
    const s = this.state;
    return {
      phase: s.phase, connection: s.connection, you: s.you, roster: s.roster, order: s.order, presence: s.presence,
      turn: s.turn ? { turn: s.turn.turn, prover: s.turn.prover, role: s.turn.role, threshold: s.turn.threshold } : null,
      results: s.results, sessionResult: s.sessionResult, undersized: s.undersized, vote: s.vote, voteAck: s.voteAck,
      hiddenTurns: s.hiddenTurns, errors: s.errors, requests: s.requests, prompt: s.prompt,
      metrics: this.metrics.map((metric) => ({ ...metric, media: metric.media ? { ...metric.media } : undefined })),
    };
  }

  close() {
    clearInterval(this.timer);
    clearTimeout(this.disconnectTimer);
    this.stopMedia(null);
    this.connection.stop();
  }
}

function presenceKey(state) {
  return { joined: "presenceJoined", reconnecting: "presenceReconnecting", left: "presenceLeft" }[state] ?? "presenceAbsent";
}
