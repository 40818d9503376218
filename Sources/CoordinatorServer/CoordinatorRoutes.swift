import Coordinator
import HTTPHost
import Hummingbird

/// The coordinator's HTTP API (docs/api.md): login, parties, registration, funds.
public enum CoordinatorRoutes {
    public static func add(to router: some RouterMethods<HostRequestContext>, api: CoordinatorAPI) {
        router.post("/v1/auth/challenge") { request, context -> Response in
            try api.limitLogin(from: context.remoteAddress)
            return JSONResponse.make(
                try api.challenge(try await JSONRequest.decode(ChallengeRequest.self, from: request)))
        }
        router.post("/v1/auth/session") { request, context -> Response in
            try api.limitLogin(from: context.remoteAddress)
            return JSONResponse.make(
                try await api.answer(try await JSONRequest.decode(LoginRequest.self, from: request)))
        }
        router.get("/v1/accounts/me") { request, _ -> Response in
            JSONResponse.make(api.accountView(try api.account(of: request)))
        }
        router.post("/v1/accounts/me/withdrawals") { request, _ -> Response in
            let account = try api.account(of: request)
            let withdrawal = try await JSONRequest.decode(WithdrawalRequest.self, from: request)
            return JSONResponse.make(try await api.withdraw(withdrawal, account: account))
        }
        router.get("/v1/admin/ledger") { request, _ -> Response in
            try api.requireAdmin(request)
            return JSONResponse.make(api.ledgerCheck())
        }
        router.get("/v1/admin/parties/:id/votes") { request, context -> Response in
            try api.requireAdmin(request)
            return JSONResponse.make(try await api.votes(party: try context.parameters.require("id")))
        }
        router.post("/v1/admin/credits") { request, _ -> Response in
            try api.requireAdmin(request)
            return JSONResponse.make(
                try await api.credit(try await JSONRequest.decode(CreditRequest.self, from: request)))
        }
        router.post("/v1/parties") { request, _ -> Response in
            try api.requireAdmin(request)
            let draft = try await JSONRequest.decode(PartyDraft.self, from: request)
            return JSONResponse.make(status: .created, try await api.createParty(draft))
        }
        router.get("/v1/parties") { _, _ -> Response in JSONResponse.make(api.parties()) }
        router.get("/v1/parties/:id") { _, context -> Response in
            JSONResponse.make(try api.party(try context.parameters.require("id")))
        }
        router.get("/v1/parties/:id/registrations") { _, context -> Response in
            JSONResponse.make(try api.registrants(try context.parameters.require("id")))
        }
        router.post("/v1/parties/:id/registrations") { request, context -> Response in
            let account = try api.account(of: request)
            let registration = try await JSONRequest.decode(RegistrationRequest.self, from: request)
            return JSONResponse.make(
                status: .created,
                try await api.register(registration, account: account, party: try context.parameters.require("id")))
        }
        router.delete("/v1/parties/:id/registrations/me") { request, context -> Response in
            let account = try api.account(of: request)
            return JSONResponse.make(
                try await api.deregister(account: account, party: try context.parameters.require("id")))
        }
        addRegistryRoutes(to: router, api: api)
    }

    static func addRegistryRoutes(to router: some RouterMethods<HostRequestContext>, api: CoordinatorAPI) {
        router.get("/v1/parties/:id/me") { request, context -> Response in
            let account = try api.account(of: request)
            return JSONResponse.make(try api.membership(party: try context.parameters.require("id"), account: account))
        }
        router.get("/v1/parties/:id/turn-location") { request, context -> Response in
            let account = try api.account(of: request)
            let turnText = request.uri.queryParameters.get("turn")
            let turn = turnText.flatMap { Int($0) }
            guard turnText == nil || turn != nil else {
                throw APIError(.badRequest, "invalid-turn", "turn must be an integer")
            }
            return JSONResponse.make(
                try await api.turnLocation(party: try context.parameters.require("id"), account: account, turn: turn))
        }
        router.get("/v1/parties/:id/assignment") { _, context -> Response in
            JSONResponse.make(try api.assignment(try context.parameters.require("id")))
        }
        router.get("/v1/parties/:id/validated") { _, context -> Response in
            JSONResponse.make(try api.validated(try context.parameters.require("id")))
        }
        router.get("/v1/registry/:account") { _, context -> Response in
            JSONResponse.make(try api.registryEntry(try context.parameters.require("account")))
        }
        router.get("/v1/registry/:account/history") { _, context -> Response in
            JSONResponse.make(try api.history(try context.parameters.require("account")))
        }
        router.post("/v1/registry/batch") { request, _ -> Response in
            JSONResponse.make(
                try api.registryEntries(try await JSONRequest.decode(RegistryBatchRequest.self, from: request)))
        }
        router.post("/v1/registry/declarations") { request, _ -> Response in
            let account = try api.account(of: request)
            let declaration = try await JSONRequest.decode(DeclarationRequest.self, from: request)
            return JSONResponse.make(status: .created, try await api.declare(declaration, controller: account))
        }
        router.delete("/v1/registry/declarations/:managed") { request, context -> Response in
            let account = try api.account(of: request)
            return JSONResponse.make(
                try await api.withdrawDeclaration(managed: try context.parameters.require("managed"), by: account))
        }
        router.post("/v1/registry/challenges") { request, _ -> Response in
            let account = try api.account(of: request)
            let filing = try await JSONRequest.decode(ChallengeFilingRequest.self, from: request)
            return JSONResponse.make(status: .created, try await api.fileChallenge(filing, by: account))
        }
        router.post("/v1/admin/challenges/:id/resolution") { request, context -> Response in
            try api.requireAdmin(request)
            let resolution = try await JSONRequest.decode(ChallengeResolutionRequest.self, from: request)
            return JSONResponse.make(try await api.resolveChallenge(try context.parameters.require("id"), resolution))
        }
        router.get("/v1/attestations/:account") { _, context -> Response in
            JSONResponse.make(try api.attestation(try context.parameters.require("account")))
        }
        router.get("/.well-known/partyline-attestation-key") { _, _ -> Response in
            JSONResponse.make(api.attestationKey())
        }
    }
}
