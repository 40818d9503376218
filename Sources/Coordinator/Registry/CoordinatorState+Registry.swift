import Crypto

extension CoordinatorState {
    /// `account`'s personhood level at `now`.
    /// An account's level: unregistered without a current validation of its own; independent with one and
    /// no controller; managed with one and a controller that holds a current validation too. A managed
    /// account whose controller's validation was revoked or expired is unregistered (no grace period) until
    /// the controller is validated again or releases it.
    public func level(of account: String, now: Int64) -> PersonhoodLevel {
        guard isValidated(account, now: now) else { return .unregistered }
        guard let link = registry.links[account] else { return .independent }
        return isValidated(link.controller, now: now) ? .managed : .unregistered
    }

    /// Whether `account` holds a current validation of its own.
    func isValidated(_ account: String, now: Int64) -> Bool {
        registry.validations[account]?.isCurrent(at: now) == true
    }

    /// A history event (`controller-lapsed` or `controller-validated`) for every account `controller`
    /// manages, whose level follows the controller's.
    mutating func recordManagedFollow(_ controller: String, kind: RegistryEvent.Kind, at: Int64) -> [CoordinatorChange]
    {
        (registry.managedBy[controller] ?? []).sorted().map {
            record(RegistryEvent(account: $0, kind: kind, at: at, subject: controller))
        }
    }

    /// Records that `controller` manages `managed`. Both must hold current validations; the controller must not
    /// be managed, the managed account must manage no one and be managed by no one, the controller must manage
    /// fewer than `limit` accounts, and `consent` must be the managed account's signature over
    /// ``ManagedLink/consentText(controller:managed:consentedAt:)``, recent and newer than the managed account's
    /// last declaration or release.
    public mutating func declareManaged(
        controller: String, managed: String, consent: [UInt8], consentedAt: Int64, limit: Int, now: Int64
    ) throws(RegistryError) -> [CoordinatorChange] {
        guard controller != managed else { throw .sameAccount }
        guard let managedRecord = accounts[managed], accounts[controller] != nil else { throw .unknownAccount }
        guard level(of: controller, now: now) != .unregistered, level(of: managed, now: now) != .unregistered else {
            throw .notValidated
        }
        guard registry.links[controller] == nil else { throw .controllerIsManaged }
        guard registry.managedBy[managed, default: []].isEmpty else { throw .managedAccountManages }
        guard registry.links[managed] == nil else { throw .alreadyManaged }
        guard registry.managedBy[controller, default: []].count < limit else { throw .controllerLimit }
        guard let key = try? AccountKey(algorithm: managedRecord.algorithm, publicKey: managedRecord.publicKey),
            key.isValidSignature(
                consent,
                for: ManagedLink.consentText(controller: controller, managed: managed, consentedAt: consentedAt))
        else { throw .invalidConsent }
        let lastChange = registry.history[managed]?.last { $0.kind == .becameManaged || $0.kind == .released }?.at
        let window = (now + ManagedLink.consentWindow.lowerBound)...(now + ManagedLink.consentWindow.upperBound)
        guard window.contains(consentedAt), consentedAt > (lastChange ?? .min) else {
            throw .staleConsent
        }
        let link = ManagedLink(controller: controller, managed: managed, declaredAt: now)
        registry.links[managed] = link
        registry.managedBy[controller, default: []].insert(managed)
        return [
            .linkDeclared(link),
            record(RegistryEvent(account: managed, kind: .becameManaged, at: now, subject: controller)),
        ]
    }

    /// Withdraws the declaration that `controller` manages `managed`; either side may (`by`).
    public mutating func withdrawManaged(controller: String, managed: String, by account: String, now: Int64)
        throws(RegistryError) -> [CoordinatorChange]
    {
        guard let link = registry.links[managed], link.controller == controller else { throw .noSuchDeclaration }
        guard account == controller || account == managed else { throw .notAParty }
        registry.links[managed] = nil
        registry.managedBy[controller]?.remove(managed)
        return [
            .linkWithdrawn(controller: controller, managed: managed),
            record(RegistryEvent(account: managed, kind: .released, at: now, subject: controller)),
        ]
    }

    /// Files a challenge against `account` (not the filer's own, and one open challenge per filer and
    /// account); its id is `id` (a fresh random value).
    public mutating func fileChallenge(id: String, against account: String, filedBy: String, reason: String, now: Int64)
        throws(RegistryError) -> [CoordinatorChange]
    {
        guard accounts[account] != nil, accounts[filedBy] != nil else { throw .unknownAccount }
        guard !reason.isEmpty, reason.count <= 1000 else { throw .invalidReason }
        // One open challenge per filer and account: a filer cannot flood an account's history.
        guard filedBy != account,
            !registry.challenges.values.contains(where: {
                $0.status == .open && $0.account == account && $0.filedBy == filedBy
            })
        else { throw .duplicateChallenge }
        let challenge = RegistryChallenge(id: id, account: account, filedBy: filedBy, reason: reason, filedAt: now)
        registry.challenges[id] = challenge
        return [
            .challenge(challenge), record(RegistryEvent(account: account, kind: .challengeFiled, at: now, subject: id)),
        ]
    }

    /// An admin's resolution: an upheld challenge revokes the account's current validation.
    public mutating func resolveChallenge(id: String, upheld: Bool, resolution: String, now: Int64)
        throws(RegistryError) -> [CoordinatorChange]
    {
        guard var challenge = registry.challenges[id] else { throw .noSuchChallenge }
        guard challenge.status == .open else { throw .challengeResolved }
        challenge.status = upheld ? .upheld : .dismissed
        challenge.resolvedAt = now
        challenge.resolution = String(resolution.prefix(1000))
        registry.challenges[id] = challenge
        var changes: [CoordinatorChange] = [
            .challenge(challenge),
            record(
                RegistryEvent(
                    account: challenge.account, kind: upheld ? .challengeUpheld : .challengeDismissed, at: now,
                    subject: id)),
        ]
        if upheld, var validation = registry.validations[challenge.account], validation.isCurrent(at: now) {
            validation.revokedAt = now
            registry.validations[challenge.account] = validation
            changes.append(.validation(validation))
            changes.append(
                record(RegistryEvent(account: challenge.account, kind: .revoked, at: now, subject: validation.party)))
            changes += recordManagedFollow(challenge.account, kind: .controllerLapsed, at: now)
        }
        return changes
    }

    /// Records an `expired` event for every validation that has run out by `now` and has none yet.
    public mutating func recordExpiries(now: Int64) -> [CoordinatorChange] {
        let expired = registry.validations.values.filter { validation in
            validation.revokedAt == nil && validation.expires <= now
                && !(registry.history[validation.account] ?? []).contains {
                    $0.kind == .expired && $0.subject == validation.party && $0.at >= validation.validatedAt
                }
        }
        return expired.sorted { $0.account < $1.account }.flatMap {
            [record(RegistryEvent(account: $0.account, kind: .expired, at: $0.expires, subject: $0.party))]
                + recordManagedFollow($0.account, kind: .controllerLapsed, at: $0.expires)
        }
    }

    /// Appends `event` to its account's history; the change that stores it.
    mutating func record(_ event: RegistryEvent) -> CoordinatorChange {
        let position = registry.history[event.account]?.count ?? 0
        registry.history[event.account, default: []].append(event)
        return .registryEvent(event, position: position)
    }
}

/// The registry's tables inside ``CoordinatorState``.
public struct RegistryBook: Sendable, Equatable {
    /// The latest validation of each account.
    public internal(set) var validations: [String: Validation] = [:]
    /// Declarations by managed account.
    public internal(set) var links: [String: ManagedLink] = [:]
    /// Managed accounts by controller.
    public internal(set) var managedBy: [String: Set<String>] = [:]
    public internal(set) var challenges: [String: RegistryChallenge] = [:]
    /// Every account's history, oldest first.
    public internal(set) var history: [String: [RegistryEvent]] = [:]

    public init() {}
}
