import Coordinator
import Crypto
import Foundation
import HTTPHost
import HTTPTypes
import Shared
import Signalling

extension CoordinatorAPI {
    // MARK: Registry

    /// Refuses a string that cannot be an account id (40 lowercase hex digits): nothing is read or signed
    /// about it.
    func requireAccountID(_ account: String) throws(APIError) {
        guard account.utf8.count == 40,
            account.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { throw APIError(.badRequest, "invalid-account", "an account id is 40 lowercase hex digits") }
    }

    func registryEntry(_ account: String) throws(APIError) -> RegistryEntryResponse {
        try requireAccountID(account)
        let now = now()
        return coordinator.read { RegistryEntryResponse(account: account, state: $0, now: now) }
    }

    func registryEntries(_ request: RegistryBatchRequest) throws(APIError) -> [RegistryEntryResponse] {
        guard request.accounts.count <= 1000 else {
            throw APIError(.badRequest, "too-many-accounts", "at most 1000 accounts per batch")
        }
        for account in request.accounts { try requireAccountID(account) }
        let now = now()
        return coordinator.read { state in
            request.accounts.map { RegistryEntryResponse(account: $0, state: state, now: now) }
        }
    }

    func history(_ account: String) throws(APIError) -> [RegistryEvent] {
        try requireAccountID(account)
        return coordinator.read { $0.registry.history[account] ?? [] }
    }

    func declare(_ request: DeclarationRequest, controller: String) async throws -> RegistryEntryResponse {
        guard let consent = Base64URL.decode(request.consent) else {
            throw APIError(.badRequest, "invalid-consent", "consent is not base64url")
        }
        let now = now()
        let limit = configuration.controllerLimit
        do {
            try await coordinator.perform { state in
                (
                    try state.declareManaged(
                        controller: controller, managed: request.managed, consent: Array(consent),
                        consentedAt: request.consentedAt, limit: limit, now: now),
                    ()
                )
            }
        } catch let error as RegistryError {
            throw APIError(registry: error)
        }
        return try registryEntry(request.managed)
    }

    func withdrawDeclaration(managed: String, by account: String) async throws -> RegistryEntryResponse {
        let now = now()
        do {
            try await coordinator.perform { state in
                guard let controller = state.registry.links[managed]?.controller else {
                    throw RegistryError.noSuchDeclaration
                }
                return (try state.withdrawManaged(controller: controller, managed: managed, by: account, now: now), ())
            }
        } catch let error as RegistryError {
            throw APIError(registry: error)
        }
        return try registryEntry(managed)
    }

    func fileChallenge(_ request: ChallengeFilingRequest, by account: String) async throws -> RegistryChallenge {
        let id = Hex.encode(SecureRandom.bytes(8))
        let now = now()
        do {
            return try await coordinator.perform { state in
                let changes = try state.fileChallenge(
                    id: id, against: request.account, filedBy: account, reason: request.reason, now: now)
                return (changes, state.registry.challenges[id]!)
            }
        } catch let error as RegistryError {
            throw APIError(registry: error)
        }
    }

    func resolveChallenge(_ id: String, _ request: ChallengeResolutionRequest) async throws -> RegistryChallenge {
        let now = now()
        do {
            return try await coordinator.perform { state in
                let changes = try state.resolveChallenge(
                    id: id, upheld: request.upheld, resolution: request.resolution ?? "", now: now)
                return (changes, state.registry.challenges[id]!)
            }
        } catch let error as RegistryError {
            throw APIError(registry: error)
        }
    }

    /// The accounts a party validated whose validation is still current: the boost list.
    func validated(_ party: String) throws(APIError) -> ValidatedResponse {
        let now = now()
        guard
            let accounts = coordinator.read({ state in
                state.parties[party].map { book in
                    book.outcomes.filter { $0.value == .validated }.keys.filter {
                        state.registry.validations[$0]?.party == party
                            && state.registry.validations[$0]?.isCurrent(at: now) == true
                    }
                }
            })
        else { throw .partyNotFound }
        return ValidatedResponse(party: party, accounts: Assignment.sortedByBytes(Array(accounts)))
    }

    // MARK: Attestations

    func attestation(_ account: String) throws(APIError) -> SignedAttestation {
        try requireAccountID(account)
        let now = now()
        let statement = coordinator.read { state in
            AttestationStatement(
                issuer: attestations.keyID, account: account, level: state.level(of: account, now: now),
                validation: state.registry.validations[account].flatMap { $0.isCurrent(at: now) ? $0 : nil },
                issuedAt: now)
        }
        return attestations.sign(statement)
    }

    func attestationKey() -> AttestationKeyResponse {
        AttestationKeyResponse(
            algorithm: "Ed25519", keyID: attestations.keyID,
            publicKey: Base64URL.encode(attestations.key.publicKey.rawRepresentation))
    }

    // MARK: A member's party

    /// The caller's current group at a started party (the latest, after a regrouping): its session and the
    /// caller's join token, or that the caller waits for a new group.
    func membership(party: String, account: String) throws(APIError) -> MembershipResponse {
        let found = coordinator.read { state -> (PartyGroup, RegistrantOutcome?, Bool)? in
            guard let book = state.parties[party],
                let group = book.groups.last(where: { $0.members.contains(account) })
            else { return nil }
            return (group, book.outcomes[account], book.waiting.contains(account))
        }
        guard let (group, outcome, waiting) = found else {
            throw APIError(.notFound, "not-in-a-group", "the account has no group at this party (yet)")
        }
        // An undersized group's session is over: nothing to join there.
        let open = !waiting && !group.undersized
        return MembershipResponse(
            party: party, group: group.index, session: open ? group.session : nil,
            token: open ? group.tokens[account] : nil,
            signallingURL: group.session.flatMap { sessionHost?.signallingURL(of: $0) } ?? sessionHost?.signallingURL,
            outcome: outcome, waitingForGroup: waiting)
    }

    /// The location commitment of the prover of the running turn (turn `turn`, when given), for that turn's
    /// verifiers only: not before the turn has started (an absent prover's no-show grace shows nothing), not
    /// after it is decided, never to the prover or to a verifier who left.
    func turnLocation(party: String, account: String, turn: Int?) async throws(APIError) -> TurnLocationResponse {
        let membership = try membership(party: party, account: account)
        guard let session = membership.session, let running = try? await sessionHost?.turnInProgress(of: session),
            running.verifiers.contains(account), turn == nil || turn == running.turn,
            let registration = coordinator.read({ $0.parties[party]?.registrations[running.prover] })
        else { throw APIError(.forbidden, "location-hidden", "no turn you verify is running in your group") }
        return TurnLocationResponse(
            turn: running.turn, pseudonym: running.proverPseudonym, latitude: registration.location.latitude,
            longitude: registration.location.longitude, description: registration.description)
    }

    /// The published assignment of a started party: everything `partyline verify-assignment` needs.
    func assignment(_ party: String) throws(APIError) -> PublishedAssignment {
        let now = now()
        guard let book = coordinator.read({ $0.parties[party] }) else { throw .partyNotFound }
        guard book.startedAt != nil, let seed = book.revealedSeed(now: now) else {
            throw APIError(.conflict, "party-not-started", "the assignment is published at the party's start")
        }
        return PublishedAssignment(
            party: party, seed: Hex.encode(seed), seedCommitment: book.party.seedCommitment,
            groupSize: book.party.groupSize, accounts: Assignment.sortedByBytes(Array(book.registrations.keys)),
            families: book.families, groups: book.groups.prefix(book.assignedGroups).map(\.members))
    }
}
