import Signalling

/// The node's own hub sets up sessions for the in-process coordinator, synchronously.
extension SignallingHub: SessionHost {
    public var sessionRules: GroupSessionConfiguration { configuration.session }
    public var joinWindow: Duration { configuration.joinWindow }
    public var signallingURL: String { configuration.publicURL }

    public func turnInProgress(of session: String) -> RunningTurn? {
        runningTurn(of: session).map { turn, pseudonym in
            RunningTurn(
                turn: turn.index, prover: turn.prover, proverPseudonym: pseudonym, verifiers: turn.verifiers.sorted())
        }
    }
}
