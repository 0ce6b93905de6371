/// Exponential backoff with an optional jitter: `initial × 2^(attempt-1)`, capped at `maximum`, scaled by a random
/// factor in `1 ± jitter`. The one backoff rule of the hub: sink retries, reconnecting connectors, restarting child
/// processes and re-enqueued source messages all use it.
public struct Backoff: Sendable, Hashable {
    /// The wait after the first failure.
    public var initial: Duration
    /// The longest wait.
    public var maximum: Duration
    /// Each wait is scaled by a random factor in [1 - jitter, 1 + jitter], so many clients do not retry in lockstep.
    public var jitter: Double

    public init(initial: Duration, maximum: Duration, jitter: Double = 0) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The wait after failed attempt `attempt` (1-based), before jitter.
    public func delay(afterAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let raw = initial * (1 << exponent)
        return raw > maximum ? maximum : raw
    }

    /// ``delay(afterAttempt:)`` scaled by a factor drawn from [1 - jitter, 1 + jitter].
    public func jitteredDelay<R: RandomNumberGenerator>(afterAttempt attempt: Int, using random: inout R) -> Duration {
        let factor = jitter == 0 ? 1 : Double.random(in: (1 - jitter)...(1 + jitter), using: &random)
        return delay(afterAttempt: attempt) * factor
    }

    /// ``jitteredDelay(afterAttempt:using:)`` with the system's random numbers.
    public func jitteredDelay(afterAttempt attempt: Int) -> Duration {
        var random = SystemRandomNumberGenerator()
        return jitteredDelay(afterAttempt: attempt, using: &random)
    }
}
