// One member's signalling connection (docs/signalling.md): join with the token, hand every server message
// to `onMessage`, reconnect with the same token after a drop, and keep the connection checked with pings.

const protocolVersion = 1;
const pingEvery = 10_000;
const pongWithin = 10_000;

// Close codes after which reconnecting cannot help.
const finalCloseCodes = new Set([1000, 1008, 4001]);

export class SignallingConnection {
  constructor(url, token, { onMessage, onState }) {
    this.url = url;
    this.token = token;
    this.onMessage = onMessage;
    this.onState = onState;
    this.socket = null;
    this.attempt = 0;
    this.stopped = false;
    this.lastError = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.retryTimer = null;
  }

  start() {
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    this.onState(this.attempt === 0 ? "connecting" : "reconnecting", { attempt: this.attempt });
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.lastError = { code: "bad-url", message: String(error) };
      this.onState("failed", { reason: "bad-url" });
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "join", version: protocolVersion, token: this.token }));
      this.startPings(socket);
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "pong") {
        clearTimeout(this.pongTimer);
        return;
      }
      if (message.type === "welcome") {
        this.attempt = 0;
        this.onState("online", {});
      }
      if (message.type === "error") this.lastError = message;
      this.onMessage(message);
    };
    socket.onclose = (event) => this.closed(socket, event);
  }

  closed(socket, event) {
    if (socket !== this.socket) return;
    this.stopPings();
    this.socket = null;
    if (this.stopped) return;
    const rateLimited = this.lastError?.code === "rate-limited";
    if (finalCloseCodes.has(event.code) && !rateLimited) {
      this.stopped = true;
      this.onState("closed", { code: event.code, error: this.lastError });
      return;
    }
    // A rate-limited reconnect is closed with 1008 too; that one is worth retrying, slower.
    this.attempt += 1;
    this.lastError = null;
    const base = rateLimited ? 3000 : Math.min(8000, 500 * 2 ** Math.min(this.attempt - 1, 4));
    const delay = base * (0.75 + Math.random() * 0.5);
    this.onState("reconnecting", { attempt: this.attempt });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  startPings(socket) {
    this.stopPings();
    this.pingTimer = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send(JSON.stringify({ type: "ping" }));
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => socket.close(4000, "no pong"), pongWithin);
    }, pingEvery);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  send(message) {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  // Ends the connection for good (a new page state, or `leave`).
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPings();
    this.socket?.close(1000);
    this.socket = null;
  }
}
