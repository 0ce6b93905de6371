import Synchronization

/// Something that waits with a deadline in ``Deadlines``: told once if the deadline passes first.
public protocol DeadlineWaiter: AnyObject, Sendable {
    /// The deadline passed. Called at most once, on the sweeping task; a waiter already answered ignores it.
    func deadlinePassed()
}

/// Resumes a continuation once, with whichever result comes first: ``finish(_:)`` from the work, or `onDeadline`
/// when its deadline in ``Deadlines`` passes. A result that comes before the continuation is installed is kept and
/// handed over by ``install(_:)``.
public final class FirstResult<Value: Sendable>: DeadlineWaiter {
    private enum State {
        case pending
        case waiting(CheckedContinuation<Value, Never>)
        case finished(Value)
        case resumed
    }

    private let onDeadline: Value
    private let state = Mutex(State.pending)

    /// - Parameter onDeadline: The result when the deadline passes first.
    public init(onDeadline: Value) { self.onDeadline = onDeadline }

    /// Installs the continuation to resume (inside `withCheckedContinuation`); resumes it at once if a result came
    /// first.
    public func install(_ continuation: CheckedContinuation<Value, Never>) {
        let early = state.withLock { state -> Value? in
            guard case .finished(let value) = state else {
                state = .waiting(continuation)
                return nil
            }
            state = .resumed
            return value
        }
        if let early { continuation.resume(returning: early) }
    }

    /// Resumes the continuation with `value` unless a result came first; returns whether this one was taken.
    @discardableResult
    public func finish(_ value: Value) -> Bool {
        let (taken, waiting) = state.withLock { state -> (Bool, CheckedContinuation<Value, Never>?) in
            switch state {
            case .pending:
                state = .finished(value)
                return (true, nil)
            case .waiting(let continuation):
                state = .resumed
                return (true, continuation)
            case .finished, .resumed:
                return (false, nil)
            }
        }
        waiting?.resume(returning: value)
        return taken
    }

    /// Whether a result was taken already (by ``finish(_:)`` or the deadline).
    public var isFinished: Bool {
        state.withLock { state in
            switch state {
            case .pending, .waiting: false
            case .finished, .resumed: true
            }
        }
    }

    public func deadlinePassed() { finish(onDeadline) }
}

/// The deadlines of every pending wait in the process (``SourceEmitter/emit(_:within:)``, ingress requests),
/// checked by one task that runs while any are pending and wakes every ``granularity``: a waiter not answered by its
/// deadline is told at most that much late; an answered one costs its entry until the deadline passes.
///
/// It replaces a sleeping task per wait: at 2 000 web-form posts a second, a 5 s acknowledgement timeout and a
/// 30 s request timeout kept 70 000 timers in the dispatch timer heap and woke a task per post when each ran out.
public final class Deadlines: Sendable {
    /// The one instance of the process.
    public static let shared = Deadlines()
    /// How late a deadline may be noticed.
    public static let granularity: Duration = .milliseconds(25)

    /// Pending waiters by their timeout: within one timeout, deadlines come in the order they were added.
    private struct State {
        var queues: [Duration: DeadlineQueue] = [:]
        var sweeping = false
    }

    private struct DeadlineQueue {
        var entries: [(deadline: ContinuousClock.Instant, waiter: any DeadlineWaiter)] = []
        var head = 0

        /// Removes and returns the waiters whose deadline is not after `now`.
        mutating func expire(at now: ContinuousClock.Instant, into expired: inout [any DeadlineWaiter]) {
            while head < entries.count, entries[head].deadline <= now {
                expired.append(entries[head].waiter)
                head += 1
            }
            if head == entries.count {
                entries.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 1_024 && head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
        }

        var isEmpty: Bool { head == entries.count }
    }

    private let state = Mutex(State())

    /// Tells `waiter` ``DeadlineWaiter/deadlinePassed()`` once `timeout` from now has passed.
    public func add(_ waiter: any DeadlineWaiter, after timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        let startSweeping = state.withLock { state in
            state.queues[timeout, default: DeadlineQueue()].entries.append((deadline, waiter))
            defer { state.sweeping = true }
            return !state.sweeping
        }
        if startSweeping { Task { await self.sweep() } }
    }

    private func sweep() async {
        var expired: [any DeadlineWaiter] = []
        while true {
            try? await Task.sleep(for: Self.granularity)
            let now = ContinuousClock.now
            let done = state.withLock { state in
                for timeout in Array(state.queues.keys) {
                    // In place through `values` (`state.queues[timeout]?.expire` copied the queue on every sweep).
                    guard let index = state.queues.index(forKey: timeout) else { continue }
                    state.queues.values[index].expire(at: now, into: &expired)
                    if state.queues.values[index].isEmpty { state.queues.remove(at: index) }
                }
                if state.queues.isEmpty { state.sweeping = false }
                return state.queues.isEmpty
            }
            for waiter in expired { waiter.deadlinePassed() }
            expired.removeAll(keepingCapacity: true)
            if done { return }
        }
    }
}
