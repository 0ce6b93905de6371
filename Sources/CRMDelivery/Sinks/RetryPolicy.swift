/// How a sink retries a transient failure: a few times in place with exponential backoff and jitter, then through
/// retry topics with growing delays, so a long outage of one target parks its messages instead of blocking.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in place (the first delivery included) before a message moves to the first retry topic. Default 3.
    public var inPlaceAttempts: Int = 3
    /// The in-place waits: 200 ms doubling up to 5 s, ±20 % jitter by default.
    public var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(5), jitter: 0.2)
    /// Delay of each retry topic (tier); after the last, the message goes to the DLQ. Default 1 min, 10 min, 1 h.
    public var retryTopicDelays: [Duration] = [.seconds(60), .seconds(600), .seconds(3_600)]

    public init() {}

    public init(
        inPlaceAttempts: Int, initialBackoff: Duration, maxBackoff: Duration, jitter: Double = 0.2,
        retryTopicDelays: [Duration]
    ) {
        self.inPlaceAttempts = max(1, inPlaceAttempts)
        self.backoff = Backoff(initial: initialBackoff, maximum: maxBackoff, jitter: jitter)
        self.retryTopicDelays = retryTopicDelays
    }

    /// Backoff before the second in-place attempt; doubles each time up to ``maxBackoff``.
    public var initialBackoff: Duration {
        get { backoff.initial }
        set { backoff.initial = newValue }
    }

    /// Longest in-place backoff (a target's Retry-After may ask for more, up to the first retry delay).
    public var maxBackoff: Duration {
        get { backoff.maximum }
        set { backoff.maximum = newValue }
    }

    /// The jitter fraction of every in-place wait.
    public var jitter: Double {
        get { backoff.jitter }
        set { backoff.jitter = min(max(newValue, 0), 1) }
    }

    /// The wait after in-place attempt `attempt` (1-based) failed, before jitter.
    public func backoff(afterAttempt attempt: Int) -> Duration { backoff.delay(afterAttempt: attempt) }

    /// ``backoff(afterAttempt:)`` scaled by a factor drawn from [1 - jitter, 1 + jitter].
    public func jitteredBackoff<R: RandomNumberGenerator>(afterAttempt attempt: Int, using random: inout R) -> Duration
    {
        backoff.jitteredDelay(afterAttempt: attempt, using: &random)
    }
}
