import Signalling

/// The node's own hub sets up sessions for the in-process coordinator, synchronously.
extension SignallingHub: SessionHost {
    public var sessionRules: GroupSessionConfiguration { configuration.session }
    public var joinWindow: Duration { configuration.joinWindow }
    public var signallingURL: String { configuration.publicURL }
}
