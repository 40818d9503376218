// The coordinator's HTTP API (docs/api.md): JSON in and out, errors as ApiError with the server's code.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(base = "") {
    this.base = base;
    this.token = null;
    // Called once when an account call is refused for an expired or unknown token; returns whether to retry.
    this.onTokenRejected = null;
  }

  async call(method, path, body, { account = false, retried = false } = {}) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (account && this.token) headers["Authorization"] = `Bearer ${this.token}`;
    let response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch (error) {
      throw new ApiError(0, "network", String(error));
    }
    const text = await response.text();
    let json = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    if (response.ok) return json;
    const code = json?.code ?? (response.status >= 500 ? "server" : `http-${response.status}`);
    if (account && !retried && response.status === 401 && this.onTokenRejected) {
      if (await this.onTokenRejected(code)) return this.call(method, path, body, { account, retried: true });
    }
    throw new ApiError(response.status, code, json?.message ?? "");
  }

  get(path, options) {
    return this.call("GET", path, undefined, options);
  }
  post(path, body, options) {
    return this.call("POST", path, body, options);
  }
  delete(path, options) {
    return this.call("DELETE", path, undefined, options);
  }
}
