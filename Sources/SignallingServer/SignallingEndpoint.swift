import Foundation
import HummingbirdWebSocket
import Logging
import NIOWebSocket
import Shared
import Signalling

/// The WebSocket side of one member's connection: admits it with its join token, hands its messages to
/// the session, and writes the session's messages back in order.
enum SignallingEndpoint {
    /// The largest WebSocket message read; larger ones close the connection (1009). Messages between
    /// `ClientMessage.maximumSize` and this get a `message-too-large` error and change nothing.
    static let maximumFrame = 64 * 1024
    /// Frames that cannot be used (not text, not JSON, too large) a connection may send before it is closed.
    static let maximumInvalidFrames = 20

    /// Serves one member's connection; `drop` closes the connection at once, without a close handshake.
    static func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, hub: SignallingHub,
        drop: @escaping @Sendable () -> Void
    ) async throws {
        var messages = inbound.messages(maxSize: maximumFrame).makeAsyncIterator()
        // A connection must join promptly; one that sends nothing is dropped.
        let joinTimer = Task {
            try await Task.sleep(for: hub.configuration.joinTimeout)
            drop()
        }
        defer { joinTimer.cancel() }
        let firstMessage = try await messages.next()
        joinTimer.cancel()
        guard let first = firstMessage else { return }
        let session: LiveSession
        let token: JoinToken
        switch hub.admit(first) {
        case .success(let admitted):
            (session, token) = admitted
        case .failure(let refusal):
            try await outbound.write(.text(ServerMessage.error(code: refusal.code, message: refusal.message).encoded()))
            try await outbound.close(.policyViolation, reason: refusal.code)
            return
        }
        let connection = hub.newConnectionID()
        hub.counters.webSocketOpened()
        defer { hub.counters.webSocketClosed() }
        // A client that stops reading fills its queue; the session then closes it (see `LiveSession`).
        let (queue, outlet) = AsyncStream<LiveSession.Outbound>.makeStream(
            bufferingPolicy: .bufferingOldest(hub.configuration.outboundQueueLimit))
        // A protocol error on the way in (a message over 64 KiB in fragments: 1009; invalid UTF-8: 1007) is
        // rethrown once the member is disconnected, so the WebSocket layer closes with its code.
        var protocolError: (any Error)?
        await withThrowingTaskGroup { group in
            group.addTask {
                for await item in queue {
                    switch item {
                    case .text(let text):
                        try await outbound.write(.text(text))
                    case .close(let reason):
                        try await outbound.close(closeCode(reason), reason: reason.rawValue)
                        return
                    }
                }
            }
            session.connect(token.member, on: connection, outlet: outlet, drop: drop)
            do {
                var invalidFrames = 0
                while let message = try await messages.next() {
                    let decoded: Result<ClientMessage, MessageError> =
                        if case .text(let text) = message {
                            Result { () throws(MessageError) in try ClientMessage.decode(text.utf8) }
                        } else {
                            .failure(.invalidMessage)
                        }
                    switch decoded {
                    case .success(let decoded):
                        session.receive(decoded, from: connection)
                    case .failure(let error):
                        outlet.yield(.text(refusal(error)))
                        invalidFrames += 1
                        if invalidFrames > maximumInvalidFrames { drop() }
                    }
                }
            } catch {
                hub.logger.debug("signalling connection ended", metadata: ["error": "\(error)"])
                protocolError = error
            }
            session.disconnect(connection)
            outlet.finish()
        }
        if let protocolError { throw protocolError }
    }

    private static func refusal(_ error: MessageError) -> String {
        ServerMessage.error(code: error.rawValue, message: "message refused: \(error.rawValue)").encoded()
    }

    static func closeCode(_ reason: SessionRoom.CloseReason) -> WebSocketErrorCode {
        switch reason {
        case .replaced: WebSocketErrorCode(codeNumber: 4001)
        case .rateLimited: .policyViolation
        case .left, .finished: .normalClosure
        case .storageUnavailable: .unexpectedServerError
        }
    }
}

/// Why a connection's first message did not admit it.
struct Refusal: Error {
    let code: String
    let message: String
}

extension SignallingHub {
    /// Checks a connection's first message: a `join` of this protocol version with a valid token for a live
    /// session on this node.
    func admit(_ message: WebSocketMessage) -> Result<(LiveSession, JoinToken), Refusal> {
        guard case .text(let text) = message else {
            return .failure(Refusal(code: MessageError.invalidMessage.rawValue, message: "send text frames"))
        }
        let decoded: ClientMessage
        do {
            decoded = try ClientMessage.decode(text.utf8)
        } catch {
            return .failure(Refusal(code: error.rawValue, message: "the first message must be a join"))
        }
        guard case .join(let version, let text) = decoded else {
            return .failure(Refusal(code: "join-first", message: "the first message must be a join"))
        }
        guard version == SessionRoom.protocolVersion else {
            return .failure(Refusal(code: "unsupported-version", message: "this server speaks version 1"))
        }
        let token: JoinToken
        do {
            token = try signer.verify(text, now: Int64(Date().timeIntervalSince1970))
        } catch {
            return .failure(Refusal(code: error.rawValue, message: "the join token was refused"))
        }
        guard let session = session(token.session), session.members[token.member] == token else {
            return .failure(Refusal(code: "session-not-found", message: "no such session on this node"))
        }
        return .success((session, token))
    }
}
