// The list of parties, registration with a committed place (the device's location or a point set by
// hand), and deregistration.

import { byId, h, replace } from "./dom.js";
import { moved } from "./geo.js";
import { storage } from "./storage.js";
import { t } from "./strings.js";

export function partyPhase(party, now) {
  if (now < party.registrationOpensAt) return "upcoming";
  if (now < party.registrationClosesAt) return "open";
  if (now < party.startsAt) return "closed";
  if (now < party.startsAt + party.duration) return "running";
  return "ended";
}

function timeText(seconds, timeZone) {
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    return new Date(seconds * 1000).toLocaleString(undefined, { ...options, timeZone });
  } catch {
    return new Date(seconds * 1000).toLocaleString(undefined, options);
  }
}

export class Parties {
  constructor(api, account, { notify, onJoin }) {
    this.api = api;
    this.account = account;
    this.notify = notify;
    this.onJoin = onJoin;
    this.list = [];
    this.registering = null;
    this.wireRegistration();
  }

  get registered() {
    return new Set(this.account.funds?.registrations ?? []);
  }

  async refresh() {
    this.list = await this.api.get("/v1/parties");
    this.render();
  }

  render() {
    const now = Date.now() / 1000;
    const registered = this.registered;
    const visible = this.list.filter((party) => partyPhase(party, now) !== "ended" || registered.has(party.id));
    // Redraw only on a change, so a tap never lands on a button that is being replaced.
    const signature = JSON.stringify(visible.map((party) => [party, partyPhase(party, now), registered.has(party.id)]));
    if (signature === this.rendered) return;
    this.rendered = signature;
    if (visible.length === 0) {
      replace(byId("party-list"), h("p", { class: "muted", text: t("partiesEmpty") }));
      return;
    }
    replace(byId("party-list"), visible.map((party) => this.card(party, now, registered.has(party.id))));
  }

  card(party, now, isRegistered) {
    const phase = partyPhase(party, now);
    const stateText = {
      upcoming: t("partyStateUpcoming", { time: timeText(party.registrationOpensAt, party.timeZone) }),
      open: t("partyStateOpen", { time: timeText(party.registrationClosesAt, party.timeZone) }),
      closed: t("partyStateClosed"),
      running: t("partyStateRunning"),
      ended: t("partyStateEnded"),
    }[phase];
    const actions = [];
    if (phase === "open" && !isRegistered) {
      actions.push(h("button", { type: "button", class: "register", "data-party": party.id, text: t("partyRegister"), onclick: () => this.openRegistration(party) }));
    }
    if (phase === "open" && isRegistered) {
      actions.push(h("button", { type: "button", class: "secondary deregister", "data-party": party.id, text: t("partyDeregister"), onclick: () => this.deregister(party) }));
    }
    if (phase === "running" && isRegistered) {
      actions.push(h("button", { type: "button", class: "join", "data-party": party.id, text: t("partyJoin"), onclick: () => this.onJoin(party) }));
    }
    if (phase === "ended" && isRegistered) {
      actions.push(h("button", { type: "button", class: "secondary", "data-party": party.id, text: t("partyResult"), onclick: () => this.onJoin(party) }));
    }
    return h("article", { class: "party", id: `party-${party.id}`, "data-phase": phase },
      h("h3", { text: party.name }),
      h("p", { class: "muted", text: [
        t("partyStarts", { time: timeText(party.startsAt, party.timeZone) }),
        t("partyDuration", { minutes: Math.round(party.duration / 60) }),
        party.deposit > 0 ? t("partyDeposit", { amount: party.deposit }) : t("partyNoDeposit"),
        t("partyRegistrations", { count: party.registrations }),
      ].join(" · ") }),
      h("p", { class: "state", text: stateText }),
      isRegistered ? h("p", { class: "registered", text: t("partyYouAreRegistered") }) : null,
      h("div", { class: "actions" }, actions));
  }

  async deregister(party) {
    try {
      const result = await this.api.delete(`/v1/parties/${party.id}/registrations/me`, { account: true });
      this.notify("partyDeregistered", { amount: result.released }, "info");
    } catch (error) {
      this.notify(error);
    }
    await this.account.refresh();
    await this.refresh();
  }

  // MARK: registration

  openRegistration(party) {
    this.registering = party;
    byId("register-title").textContent = t("registerTitle", { party: party.name });
    byId("register-help").textContent = t("registerHelp", { meters: party.minimumDistance });
    byId("register-submit").textContent = t("registerSubmit", { amount: party.deposit });
    byId("register-status").textContent = "";
    byId("register-view").hidden = false;
    byId("parties-view").hidden = true;
    byId("register-view").scrollIntoView();
  }

  closeRegistration() {
    this.registering = null;
    byId("register-view").hidden = true;
    byId("parties-view").hidden = false;
  }

  point() {
    const latitude = Number.parseFloat(byId("latitude").value);
    const longitude = Number.parseFloat(byId("longitude").value);
    if (!Number.isFinite(latitude) || !Number.isFinite(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return null;
    return { latitude, longitude };
  }

  setPoint({ latitude, longitude }) {
    byId("latitude").value = latitude.toFixed(6);
    byId("longitude").value = longitude.toFixed(6);
  }

  locate() {
    const status = byId("register-status");
    if (!navigator.geolocation) {
      status.textContent = t("registerLocationUnavailable");
      return;
    }
    status.textContent = t("registerLocating");
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const accuracy = Math.round(position.coords.accuracy);
        this.setPoint(position.coords);
        const limit = Math.max(25, (this.registering?.minimumDistance ?? 100) / 2);
        status.textContent = accuracy > limit ? t("registerImprecise", { meters: accuracy }) : t("registerLocated", { meters: accuracy });
        status.dataset.result = accuracy > limit ? "imprecise" : "located";
      },
      (error) => {
        const denied = error.code === error.PERMISSION_DENIED;
        status.textContent = t(denied ? "registerLocationDenied" : "registerLocationUnavailable");
        status.dataset.result = denied ? "denied" : "unavailable";
        byId("manual-point").open = true;
      },
      { enableHighAccuracy: true, timeout: 20_000, maximumAge: 0 });
  }

  async submit() {
    const party = this.registering;
    const point = this.point();
    const status = byId("register-status");
    if (!party) return;
    if (!point) {
      status.textContent = t("registerInvalidPoint");
      status.dataset.result = "invalid";
      return;
    }
    const description = byId("place-description").value.trim();
    try {
      await this.api.post(`/v1/parties/${party.id}/registrations`,
        { ...point, ...(description ? { description } : {}) }, { account: true });
      await storage.put("places", party.id, point).catch(() => undefined);
      this.closeRegistration();
      this.notify("registerDone", {}, "info");
      await this.account.refresh();
      await this.refresh();
    } catch (error) {
      status.textContent = this.notify.describe(error);
      status.dataset.result = error.code ?? "error";
    }
  }

  wireRegistration() {
    byId("use-location").addEventListener("click", () => this.locate());
    byId("register-cancel").addEventListener("click", () => this.closeRegistration());
    byId("register-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    for (const button of document.querySelectorAll("[data-nudge]")) {
      button.addEventListener("click", () => {
        const point = this.point() ?? { latitude: 0, longitude: 0 };
        const step = Number(byId("nudge-step").value);
        const [north, east] = { north: [step, 0], south: [-step, 0], east: [0, step], west: [0, -step] }[button.dataset.nudge];
        this.setPoint(moved(point, north, east));
      });
    }
  }
}
