// One member's signalling connection (docs/signalling.md): join with the token, hand every server message
// to `onMessage`, reconnect with the same token after a drop, and keep the connection checked with pings.

const protocolVersion = 1;
const pingEvery = 10_000;
const pongWithin = 10_000;

// Close codes after which reconnecting cannot help: the session is over, the join was refused, or the
// member opened the session somewhere else.
const finalCloseCodes = new Set([1000, 1008, 4001]);
// Errors after which this session is gone (the coordinator may make a new one).
const sessionEndingErrors = new Set(["storage-unavailable", "session-finished", "session-not-found"]);

export class SignallingConnection {
  constructor(url, token, { onMessage, onState }) {
    this.url = url;
    this.token = token;
    this.onMessage = onMessage;
    this.onState = onState;
    this.socket = null;
    this.attempt = 0;
    this.stopped = false;
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
      this.stopped = true;
      this.onState("failed", { reason: "bad-url" });
      return;
    }
    // What this connection learnt: whether it was welcomed, and the error that came with a refusal.
    const connection = { welcomed: false, error: null };
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
        connection.welcomed = true;
        this.attempt = 0;
        this.onState("online", {});
      }
      // Before the welcome an error is the join's refusal; after it, only the session's end matters here.
      if (message.type === "error" && (!connection.welcomed || sessionEndingErrors.has(message.code))) {
        connection.error = message;
      }
      this.onMessage(message);
    };
    socket.onclose = (event) => this.closed(socket, event.code, connection);
  }

  closed(socket, code, connection) {
    if (socket !== this.socket) return;
    this.stopPings();
    socket.onclose = null;
    socket.onmessage = null;
    this.socket = null;
    if (this.stopped) return;
    // A reconnect refused for coming too often is closed with 1008 too: that one is worth retrying, slower.
    const rateLimited = !connection.welcomed && connection.error?.code === "rate-limited";
    const final = (finalCloseCodes.has(code) && !rateLimited) || sessionEndingErrors.has(connection.error?.code);
    if (final) {
      this.stopped = true;
      this.onState("closed", { code, error: connection.error });
      return;
    }
    this.attempt += 1;
    const base = rateLimited ? 3000 : Math.min(8000, 500 * 2 ** Math.min(this.attempt - 1, 4));
    const delay = base * (0.75 + Math.random() * 0.5);
    this.onState("reconnecting", { attempt: this.attempt });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // A connection that stopped answering: given up at once (a dead network may take a minute to close it).
  abandon(socket) {
    if (socket !== this.socket) return;
    try {
      socket.close(4000, "no pong");
    } catch {
      // Closing a dead socket may throw; it is dropped either way.
    }
    this.closed(socket, 4000, { welcomed: true, error: null });
  }

  startPings(socket) {
    this.stopPings();
    this.pingTimer = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send(JSON.stringify({ type: "ping" }));
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.abandon(socket), pongWithin);
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
