import Configuration
import CoordinatorServer
import CoordinatorStore
import RelayServer

extension CoordinatorConfiguration {
    /// Reads the `coordinator.*` keys. See `config/partyline.example.yaml`. The SQLite file defaults to
    /// `partyline.sqlite` in `dataDirectory`, beside the key files it records.
    init(reader: ConfigReader, dataDirectory: String) throws {
        let defaults = CoordinatorConfiguration()
        let database: SQLCoordinatorStore.Backend
        let sqlitePath = reader.string(
            forKey: "coordinator.database.sqlitePath", default: dataDirectory + "/partyline.sqlite")
        if let url = try reader.secret("coordinator.database.postgresURL"), !url.isEmpty {
            database = .postgres(url: url)
        } else {
            database = .sqlite(path: sqlitePath)
        }
        let adminKeys = try reader.secretList("coordinator.adminKeys")
        self.init(
            database: database, adminKeys: adminKeys,
            loginSecret: try reader.secret("coordinator.loginSecret"),
            challengeLifetime: Int64(
                reader.int(forKey: "coordinator.challengeLifetime", default: Int(defaults.challengeLifetime))),
            sessionLifetime: Int64(
                reader.int(forKey: "coordinator.sessionLifetime", default: Int(defaults.sessionLifetime)))
        )
        guard challengeLifetime > 0, sessionLifetime > 0 else {
            throw ConfigurationError("coordinator.challengeLifetime and coordinator.sessionLifetime must be positive")
        }
        validity = Int64(reader.int(forKey: "coordinator.validityDays", default: 365)) * 86_400
        controllerLimit = reader.int(forKey: "coordinator.controllerLimit", default: defaults.controllerLimit)
        minimumPresent = reader.int(forKey: "coordinator.minimumPresent", default: defaults.minimumPresent)
        webhookURLs = (reader.stringArray(forKey: "coordinator.webhooks.urls") ?? [])
            .flatMap { $0.split(separator: ",") }.map(String.init).filter { !$0.isEmpty }
        webhookSecret = try reader.secret("coordinator.webhooks.secret")
        loginsPerSecond = reader.double(forKey: "coordinator.rateLimit.loginsPerSecond", default: loginsPerSecond)
        loginBurst = reader.int(forKey: "coordinator.rateLimit.loginBurst", default: loginBurst)
        guard loginsPerSecond >= 0, loginBurst >= 1 else {
            throw ConfigurationError("coordinator.rateLimit.loginsPerSecond must not be negative, loginBurst positive")
        }
        guard (3...12).contains(minimumPresent) else {
            throw ConfigurationError("coordinator.minimumPresent must be within 3...12")
        }
        guard validity > 0, controllerLimit >= 0 else {
            throw ConfigurationError(
                "coordinator.validityDays must be positive and coordinator.controllerLimit not negative")
        }
        guard webhookURLs.isEmpty || webhookSecret != nil else {
            throw ConfigurationError("coordinator.webhooks.urls needs coordinator.webhooks.secret")
        }
    }
}
