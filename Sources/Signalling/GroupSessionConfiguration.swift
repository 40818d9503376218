/// The rules of one group session; every duration is configurable, these are the defaults.
public struct GroupSessionConfiguration: Sendable, Hashable {
    /// Members a group may have (the default group is six).
    public static let memberRange = 3...12

    /// How long a turn may last before it is decided with the votes so far.
    public var turnDeadline: Duration = .seconds(120)
    /// How long an absent prover is waited for at the start of their turn before being a no-show.
    public var noShowGrace: Duration = .seconds(20)
    /// How long a prover whose connection dropped mid-turn may take to resume the same turn.
    public var reconnectGrace: Duration = .seconds(15)
    /// Fewest members present (joined or reconnecting) at the start for the turns to run; below it the
    /// session ends as undersized. 0 runs with any number.
    public var minimumPresent = 0
    /// Liveness challenges drawn at random for the prover.
    public var prompts: [String] = [
        "pan slowly left", "show the sky", "show the nearest street sign",
        "count to five on your fingers in front of the lens", "show the ground at your feet",
        "turn the camera towards the nearest light",
    ]

    public init() {}
}
