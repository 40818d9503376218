import Callbacks
import Coordinator
import Foundation
import Logging
import Synchronization

/// Signed webhooks from committed changes: `party-completed` when the last outcome of a party is recorded,
/// `level-changed` when an account is validated, becomes managed, is released, is revoked or expires. Each is
/// POSTed to every configured URL with `X-PartyLine-Signature` and retried with backoff (in memory: a
/// restart forgets deliveries in flight).
public final class WebhookNotifier: Sendable {
    let urls: [String]
    let delivery: CallbackDelivery
    let coordinator: LiveCoordinator
    let now: @Sendable () -> Int64
    private let announced = Mutex<Set<String>>([])

    public init(
        urls: [String], secret: String, coordinator: LiveCoordinator, logger: Logger,
        now: @escaping @Sendable () -> Int64
    ) {
        self.urls = urls
        delivery = CallbackDelivery(secret: secret, attempts: 8, initialBackoff: .seconds(1), logger: logger)
        self.coordinator = coordinator
        self.now = now
    }

    /// Starts listening to `coordinator`'s commits.
    public func attach() {
        coordinator.onCommitted { [self] changes in
            for event in events(for: changes) { send(event) }
        }
    }

    /// The webhook bodies a batch of committed changes calls for.
    func events(for changes: [CoordinatorChange]) -> [Data] {
        var bodies: [Data] = []
        var completedParties: Set<String> = []
        for change in changes {
            switch change {
            case .registryEvent(let event, _):
                let levelKinds: Set<RegistryEvent.Kind> = [
                    .validated, .becameManaged, .released, .revoked, .expired, .controllerLapsed, .controllerValidated,
                ]
                guard levelKinds.contains(event.kind) else { continue }
                let level = coordinator.read { $0.level(of: event.account, now: now()) }
                bodies.append(
                    Self.encode(
                        LevelChanged(
                            account: event.account, level: level.rawValue, levelName: level.name,
                            reason: event.kind.rawValue, at: event.at)))
            case .outcome(let party, _, _, _):
                completedParties.insert(party)
            default:
                continue
            }
        }
        for party in completedParties.sorted() {
            let completed: PartyCompleted? = coordinator.read { state in
                guard let book = state.parties[party] else { return nil }
                guard book.startedAt != nil, !book.outcomes.isEmpty, book.outcomes.count >= book.placed else {
                    return nil
                }
                func accounts(_ outcome: RegistrantOutcome) -> [String] {
                    Assignment.sortedByBytes(book.outcomes.filter { $0.value == outcome }.map(\.key))
                }
                return PartyCompleted(
                    party: party, validated: accounts(.validated), failed: accounts(.failed), noShow: accounts(.noShow),
                    unplaced: accounts(.unplaced))
            }
            // The state read may run ahead of this batch; a party is announced once.
            if let completed, announced.withLock({ $0.insert(party).inserted }) {
                bodies.append(Self.encode(completed))
            }
        }
        return bodies
    }

    private func send(_ body: Data) {
        for url in urls {
            let delivery = delivery
            Task { await delivery.deliver(body, to: url) }
        }
    }

    private static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Plain fields always encode.
        return try! encoder.encode(value)
    }
}

/// `{"type":"level-changed", ...}`.
struct LevelChanged: Encodable {
    let type = "level-changed"
    let account: String
    let level: Int
    let levelName: String
    /// What changed it: validated, became-managed, released, revoked, expired, controller-lapsed,
    /// controller-validated.
    let reason: String
    let at: Int64
}

/// `{"type":"party-completed", ...}`: every registrant has an outcome.
struct PartyCompleted: Encodable {
    let type = "party-completed"
    let party: String
    let validated: [String]
    let failed: [String]
    let noShow: [String]
    let unplaced: [String]
}
