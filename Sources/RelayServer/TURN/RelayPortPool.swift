import Synchronization

/// The relay ports of one relay address, shared by every event loop: picked at random (RFC 8656 §7.2
/// asks for unpredictable ports), handed back when an allocation ends, and held for 30 seconds under a
/// reservation token when an Allocate with EVEN-PORT's R flag asks for the next port (RFC 8656 §14.6).
final class RelayPortPool: Sendable {
    typealias Instant = ContinuousClock.Instant

    let range: ClosedRange<UInt16>
    private let state: Mutex<State>

    /// How long a reserved port waits for the Allocate that brings its token.
    static let reservationLifetime: Duration = .seconds(30)

    private struct State {
        var free: [Bool]
        var freeCount: Int
        var reservations: [UInt64: (port: UInt16, expires: Instant)] = [:]
    }

    init(range: ClosedRange<UInt16>) {
        self.range = range
        state = Mutex(State(free: Array(repeating: true, count: range.count), freeCount: range.count))
    }

    /// A free port (even if asked), or nil when none is left. With `reserveNext`, the port after it is
    /// held too and a token for it returned.
    func take(even: Bool = false, reserveNext: Bool = false, now: Instant = .now) -> (port: UInt16, token: UInt64?)? {
        state.withLock { state in
            release(expiredReservationsIn: &state, now: now)
            let lower = Int(range.lowerBound)
            let count = state.free.count
            guard state.freeCount > (reserveNext ? 1 : 0) else { return nil }
            let start = Int.random(in: 0..<count)
            for step in 0..<count {
                let index = (start + step) % count
                let port = lower + index
                guard state.free[index], !even || port % 2 == 0 else { continue }
                if reserveNext {
                    guard index + 1 < count, state.free[index + 1] else { continue }
                    let token = UInt64.random(in: 1...UInt64.max)
                    mark(index + 1, free: false, in: &state)
                    state.reservations[token] = (UInt16(port + 1), now + Self.reservationLifetime)
                    mark(index, free: false, in: &state)
                    return (UInt16(port), token)
                }
                mark(index, free: false, in: &state)
                return (UInt16(port), nil)
            }
            return nil
        }
    }

    /// The port held under `token`, which is spent; nil for an unknown or expired token.
    func take(token: UInt64, now: Instant = .now) -> UInt16? {
        state.withLock { state in
            release(expiredReservationsIn: &state, now: now)
            return state.reservations.removeValue(forKey: token)?.port
        }
    }

    /// Returns `port` to the pool.
    func give(_ port: UInt16) {
        guard range.contains(port) else { return }
        state.withLock { state in mark(Int(port - range.lowerBound), free: true, in: &state) }
    }

    /// Ports neither in use nor reserved.
    var freeCount: Int { state.withLock { $0.freeCount } }

    private func mark(_ index: Int, free: Bool, in state: inout State) {
        guard state.free[index] != free else { return }
        state.free[index] = free
        state.freeCount += free ? 1 : -1
    }

    private func release(expiredReservationsIn state: inout State, now: Instant) {
        for (token, reservation) in state.reservations where reservation.expires <= now {
            state.reservations[token] = nil
            mark(Int(reservation.port - range.lowerBound), free: true, in: &state)
        }
    }
}
