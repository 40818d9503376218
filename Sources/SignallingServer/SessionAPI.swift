import Foundation
import HTTPHost
import HTTPTypes
import Hummingbird
import NIOCore
import Signalling

/// `POST /v1/sessions`: the members of one group and optional rules.
public struct CreateSessionRequest: Sendable, Codable {
    public struct Options: Sendable, Codable {
        public var turnDeadlineSeconds: Int?
        public var noShowGraceSeconds: Int?
        public var reconnectGraceSeconds: Int?
        public var prompts: [String]?
        /// Fewest members present at the start for the turns to run (2…members); below it the session ends
        /// `undersized` and reports who was present. No minimum when absent.
        public var minimumPresent: Int?

        public init(
            turnDeadlineSeconds: Int? = nil, noShowGraceSeconds: Int? = nil, reconnectGraceSeconds: Int? = nil,
            prompts: [String]? = nil, minimumPresent: Int? = nil
        ) {
            self.turnDeadlineSeconds = turnDeadlineSeconds
            self.noShowGraceSeconds = noShowGraceSeconds
            self.reconnectGraceSeconds = reconnectGraceSeconds
            self.prompts = prompts
            self.minimumPresent = minimumPresent
        }
    }

    /// Member ids as the coordinator knows them: 1–64 characters of letters, digits, `.`, `_`, `-`, `@`.
    public var members: [String]
    /// The members who take a turn as prover (distinct, at least one); every member when absent. The others
    /// only verify (for instance members whose outcome is already recorded, in a session created again).
    public var provers: [String]?
    /// Unix seconds at which the first turn starts with whoever has joined.
    public var startAt: Int64?
    public var options: Options?
    /// An `http(s)` URL that receives the session's result, signed (see `CallbackSignature`).
    public var callbackURL: String?

    public init(
        members: [String], provers: [String]? = nil, startAt: Int64? = nil, options: Options? = nil,
        callbackURL: String? = nil
    ) {
        self.members = members
        self.provers = provers
        self.startAt = startAt
        self.options = options
        self.callbackURL = callbackURL
    }
}

/// The answer to `POST /v1/sessions`: one join token per member, to be handed to that member only.
public struct CreateSessionResponse: Sendable, Codable {
    public struct Member: Sendable, Codable {
        public let member: String
        public let pseudonym: String
        public let token: String
    }

    public let session: String
    public let signallingURL: String
    /// Unix seconds after which the tokens are refused.
    public let expires: Int64
    public let members: [Member]
}

extension APIError {
    static let notFound = APIError(.notFound, "session-not-found", "no such session")
}
