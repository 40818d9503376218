// The account card: the key, signing in by the coordinator's challenge, the level and the funds.

import { AccountKey } from "./keystore.js";
import { byId, copyText, h, replace } from "./dom.js";
import { t } from "./strings.js";

export class Account {
  constructor(api, { notify, onChange }) {
    this.api = api;
    this.notify = notify;
    this.onChange = onChange;
    this.key = null;
    this.id = null;
    this.funds = null;
    this.registry = null;
  }

  async open() {
    replace(byId("account-body"), h("p", { class: "muted", text: t("accountCreating") }));
    this.key = await AccountKey.loadOrCreate();
    this.wire();
    this.api.onTokenRejected = async (code) => {
      if (!["expired-token", "forged-token", "malformed-token", "unauthorized"].includes(code)) return false;
      this.notify("errorLoginExpired", {}, "info");
      await this.signIn();
      return true;
    };
    // The server may be out of reach at first: keep trying, so the card comes to life once it answers.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.signIn();
        return;
      } catch (error) {
        if (attempt === 1) this.notify(error);
        await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 1000 * attempt)));
      }
    }
  }

  async signIn() {
    const publicKey = this.key.publicKey;
    const challenge = await this.api.post("/v1/auth/challenge", { algorithm: "ES256", publicKey });
    const signature = await this.key.sign(challenge.signedText);
    const session = await this.api.post("/v1/auth/session", {
      algorithm: "ES256", publicKey, challenge: challenge.challenge, signature,
    });
    this.api.token = session.token;
    this.id = session.account;
  }

  async refresh() {
    const [funds, registry] = await Promise.all([
      this.api.get("/v1/accounts/me", { account: true }),
      this.api.get(`/v1/registry/${this.id}`),
    ]);
    this.funds = funds;
    this.registry = registry;
    this.render();
    return funds;
  }

  render() {
    const registry = this.registry;
    const level = registry ? t(`levelName${registry.level}`) : "…";
    const rows = [
      [t("accountId"), h("code", { id: "account-id", text: this.id ?? "…" })],
      [t("accountLevel"), h("span", { id: "account-level", "data-level": registry?.level ?? "", text: level
        + (registry?.controller ? ` (${t("levelManagedBy", { controller: registry.controller.slice(0, 8) + "…" })})` : "") })],
      [t("accountFree"), h("span", { id: "account-free", text: this.funds?.free ?? "…" })],
      [t("accountLocked"), h("span", { id: "account-locked", text: this.funds?.locked ?? "…" })],
    ];
    replace(byId("account-body"), h("dl", { class: "facts" }, rows.map(([name, value]) => [h("dt", { text: name }), h("dd", {}, value)])));
    byId("key-backup").hidden = !this.key?.backup;
    byId("key-locked").hidden = Boolean(this.key?.backup);
    byId("withdraw-form").hidden = !(this.funds?.free > 0);
  }

  wire() {
    byId("key-backup").addEventListener("click", () => {
      const field = byId("key-backup-text");
      field.value = this.key.backup;
      byId("key-backup-panel").hidden = false;
    });
    byId("key-backup-copy").addEventListener("click", async () => {
      if (await copyText(byId("key-backup-text").value, byId("key-backup-text"))) this.notify("copied", {}, "info");
    });
    byId("key-backup-close").addEventListener("click", () => {
      byId("key-backup-text").value = "";
      byId("key-backup-panel").hidden = true;
    });
    byId("key-import-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = byId("key-import-text").value;
      if (!confirm(t("keyImportConfirm"))) return;
      try {
        this.key = await AccountKey.importBackup(text);
      } catch {
        this.notify("keyImportInvalid");
        return;
      }
      byId("key-import-text").value = "";
      await this.signIn();
      await this.onChange();
    });
    byId("withdraw-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const amount = Number(byId("withdraw-amount").value);
      try {
        const funds = await this.api.post("/v1/accounts/me/withdrawals", { amount }, { account: true });
        this.funds = funds;
        this.render();
        this.notify("withdrawDone", { amount, free: funds.free }, "info");
      } catch (error) {
        this.notify(error);
      }
    });
  }
}
