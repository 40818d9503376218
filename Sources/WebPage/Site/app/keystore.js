import { storage } from "./storage.js";

// The account key: ECDSA P-256 made with WebCrypto and kept in IndexedDB as a non-extractable CryptoKey.
// Its backup text exists only on the visit that made (or imported) it; after that the browser can sign
// with the key but never hands it out.

const backupPrefix = "partyline-key-v1:";
const algorithm = { name: "ECDSA", namedCurve: "P-256" };

export const base64url = {
  encode(bytes) {
    let binary = "";
    for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
  decode(text) {
    const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const binary = atob(padded);
    return Uint8Array.from(binary, (character) => character.charCodeAt(0));
  },
};

// A locked copy of PKCS#8 bytes: a non-extractable signing key and its raw public key.
async function lock(pkcs8) {
  const extractable = await crypto.subtle.importKey("pkcs8", pkcs8, algorithm, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", extractable);
  const publicKey = await crypto.subtle.importKey(
    "jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true }, algorithm, true, ["verify"]);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, algorithm, false, ["sign"]);
  const raw = await crypto.subtle.exportKey("raw", publicKey);
  return { privateKey, publicKey: base64url.encode(raw), algorithm: "ES256" };
}

export class AccountKey {
  constructor(stored, backup = null) {
    this.privateKey = stored.privateKey;
    this.publicKey = stored.publicKey;
    this.algorithm = stored.algorithm;
    // The backup text, on the visit that made or imported the key only.
    this.backup = backup;
  }

  static supported() {
    return Boolean(globalThis.crypto?.subtle && globalThis.indexedDB);
  }

  // The stored key, or a new one made and stored now.
  static async loadOrCreate() {
    const stored = await storage.get("keys", "account");
    if (stored?.privateKey) return new AccountKey(stored);
    const pair = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", pair.privateKey);
    return AccountKey.save(pkcs8);
  }

  static async save(pkcs8) {
    const locked = await lock(pkcs8);
    await storage.put("keys", "account", locked);
    return new AccountKey(locked, backupPrefix + base64url.encode(pkcs8));
  }

  // Replaces the stored key with the one in a backup text; throws on text that is not a backup.
  static async importBackup(text) {
    const trimmed = text.trim();
    if (!trimmed.startsWith(backupPrefix)) throw new Error("not a backup");
    const pkcs8 = base64url.decode(trimmed.slice(backupPrefix.length));
    return AccountKey.save(pkcs8);
  }

  async sign(text) {
    const signature = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" }, this.privateKey, new TextEncoder().encode(text));
    return base64url.encode(signature);
  }
}
