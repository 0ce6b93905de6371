/// How a sink retries a transient failure: a few times in place with exponential backoff and jitter, then through
/// retry topics with growing delays, so a long outage of one target parks its messages instead of blocking.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in place (the first delivery included) before a message moves to the first retry topic. Default 3.
    public var inPlaceAttempts: Int = 3
    /// Backoff before the second in-place attempt; doubles each time up to `maxBackoff`. Default 200 ms.
    public var initialBackoff: Duration = .milliseconds(200)
    /// Longest in-place backoff (a target's Retry-After may ask for more, up to the first retry delay). Default 5 s.
    public var maxBackoff: Duration = .seconds(5)
    /// Each backoff is scaled by a random factor in 1 ± jitter, so many sinks do not retry in lockstep. Default 0.2.
    public var jitter: Double = 0.2
    /// Delay of each retry topic (tier); after the last, the message goes to the DLQ. Default 1 min, 10 min, 1 h.
    public var retryTopicDelays: [Duration] = [.seconds(60), .seconds(600), .seconds(3_600)]

    public init() {}

    public init(inPlaceAttempts: Int, initialBackoff: Duration, maxBackoff: Duration, jitter: Double = 0.2, retryTopicDelays: [Duration]) {
        self.inPlaceAttempts = max(1, inPlaceAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.jitter = min(max(jitter, 0), 1)
        self.retryTopicDelays = retryTopicDelays
    }

    /// The wait after in-place attempt `attempt` (1-based) failed, before jitter: initial × 2^(attempt-1), capped.
    public func backoff(afterAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let raw = initialBackoff * (1 << exponent)
        return raw > maxBackoff ? maxBackoff : raw
    }

    /// `backoff(afterAttempt:)` scaled by a factor drawn from [1 - jitter, 1 + jitter].
    public func jitteredBackoff<R: RandomNumberGenerator>(afterAttempt attempt: Int, using random: inout R) -> Duration {
        let factor = jitter == 0 ? 1 : Double.random(in: (1 - jitter)...(1 + jitter), using: &random)
        return backoff(afterAttempt: attempt) * factor
    }
}
