import HummingbirdWSClient
import Logging
import NIOSSL
import NIOWebSocket
import Signalling

/// A member's signalling connection, as a client (the load tool, the tests) uses it: messages to send are
/// queued until the WebSocket is up; the server's messages arrive decoded, in order, on `messages`.
public final class SignallingConnection: Sendable {
    /// The server's messages; the stream ends when the connection closes.
    public let messages: AsyncStream<ServerMessage>
    private let outbox: AsyncStream<Outgoing>.Continuation
    private let task: Task<WebSocketCloseFrame?, any Error>

    private enum Outgoing: Sendable {
        case text(String)
        case close
    }

    /// Opens a connection to `url` (`ws://host:port/v1/signal`, or `wss://` with `tls`, the system's trust
    /// when nil) in the background.
    public init(url: String, tls: TLSConfiguration? = nil, logger: Logger) {
        let (messages, inbox) = AsyncStream<ServerMessage>.makeStream()
        let (outgoing, outbox) = AsyncStream<Outgoing>.makeStream()
        self.messages = messages
        self.outbox = outbox
        task = Task {
            defer { inbox.finish() }
            return try await WebSocketClient.connect(
                url: url, configuration: .init(maxFrameSize: 64 * 1024), tlsConfiguration: tls, logger: logger
            ) { inbound, outbound, _ in
                try await withThrowingTaskGroup { group in
                    group.addTask {
                        for await item in outgoing {
                            switch item {
                            case .text(let text): try await outbound.write(.text(text))
                            case .close:
                                try await outbound.close(.normalClosure, reason: nil)
                                return
                            }
                        }
                    }
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message,
                            let decoded = try? ServerMessage.decode(Array(text.utf8))
                        else { continue }
                        inbox.yield(decoded)
                    }
                    group.cancelAll()
                }
            }
        }
    }

    public func send(_ message: ClientMessage) { outbox.yield(.text(message.encoded())) }

    /// Sends raw text, as a misbehaving client would.
    public func send(text: String) { outbox.yield(.text(text)) }

    /// Closes the connection from this side.
    public func close() { outbox.yield(.close) }

    /// How the server closed the connection.
    public struct Closure: Sendable, Hashable {
        /// The WebSocket close code (1000 normal, 1008 policy, 4001 replaced, ...).
        public let code: UInt16
        public let reason: String?

        public init(code: UInt16, reason: String?) {
            self.code = code
            self.reason = reason
        }
    }

    /// Waits for the connection to end; the server's close frame, if it sent one.
    @discardableResult public func closed() async throws -> Closure? {
        try await task.value.map { Closure(code: UInt16(webSocketErrorCode: $0.closeCode), reason: $0.reason) }
    }

    /// Drops the connection without a close handshake (a network flap).
    public func abort() { task.cancel() }
}
