import Synchronization

/// Bounds the number of messages a route has in flight. `acquire` suspends (never blocks a thread) while the
/// limit is reached; `release` may be called from any thread, including librdkafka's poll thread.
///
/// A suspended `acquire` resumes once an eighth of the slots are free again (``resumeAt``), not at the first free one.
/// A route at its limit (the broker acknowledges more slowly than the route produces) then wakes once per `limit / 8`
/// deliveries and takes the freed slots without suspending, where it used to wake, take one slot and suspend again
/// for every delivery. Below a limit of 16 a waiter resumes at the first free slot, as before.
public final class InFlightLimiter: Sendable {
    private struct State {
        var inFlight = 0
        var waiter: CheckedContinuation<Void, Never>?
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    public let limit: Int
    /// A suspended `acquire` resumes when no more than this many slots are in use.
    public let resumeAt: Int
    private let state = Mutex(State())

    public init(limit: Int) {
        self.limit = max(1, limit)
        self.resumeAt = self.limit - max(1, self.limit / 8)
    }

    /// Takes one slot, waiting for one to free up if needed. Only one task may call this at a time.
    public func acquire() async {
        // Fast path without a suspension: a free slot is taken under the lock.
        let taken = state.withLock { state -> Bool in
            guard state.inFlight < limit else { return false }
            state.inFlight += 1
            return true
        }
        if taken { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.inFlight < limit {
                    state.inFlight += 1
                    return true
                }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Frees one slot.
    public func release() {
        let (waiter, idle) = state.withLock {
            state -> (CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) in
            state.inFlight -= 1
            if let waiter = state.waiter, state.inFlight <= resumeAt {
                state.waiter = nil
                state.inFlight += 1  // the waiter's slot, handed straight to it
                return (waiter, [])
            }
            if state.inFlight == 0 {
                defer { state.idleWaiters = [] }
                return (nil, state.idleWaiters)
            }
            return (nil, [])
        }
        waiter?.resume()
        for waiter in idle { waiter.resume() }
    }

    /// Slots in use.
    public var inFlight: Int { state.withLock { $0.inFlight } }

    /// Whether an `acquire` is suspended, waiting for slots.
    var hasWaiter: Bool { state.withLock { $0.waiter != nil } }

    /// Waits until nothing is in flight, or `timeout` passes. Returns false on timeout.
    public func waitUntilIdle(timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let idle = self.state.withLock { state -> Bool in
                        if state.inFlight == 0 { return true }
                        state.idleWaiters.append(continuation)
                        return false
                    }
                    if idle { continuation.resume() }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            if !first {
                // Timed out: wake the idle waiter so the group can finish.
                let waiters = state.withLock { state in
                    defer { state.idleWaiters = [] }
                    return state.idleWaiters
                }
                for waiter in waiters { waiter.resume() }
            }
            group.cancelAll()
            return first
        }
    }
}
