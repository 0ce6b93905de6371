import Dispatch
import Foundation
import Synchronization

/// A dedicated OS thread that runs a polling step in a loop until stopped. librdkafka's blocking polls run here,
/// never on Swift's cooperative thread pool.
final class PollThread: Sendable {
    private let name: String
    private let running = Atomic<Bool>(false)
    private let exited = DispatchSemaphore(value: 0)

    /// - Parameter name: the thread's name in `top -H`, `perf` and `/proc`; Linux keeps at most 15 bytes of it.
    init(name: String) {
        precondition(name.utf8.count <= 15, "thread names longer than 15 bytes are not set on Linux")
        self.name = name
    }

    /// Starts the thread; `step` must return within a bounded time (poll with a timeout).
    func start(_ step: @escaping @Sendable () -> Void) {
        running.store(true, ordering: .sequentiallyConsistent)
        let thread = Thread { [self] in
            // Named from inside: Foundation on Linux does not pass a name set before `start` to the OS thread, and
            // only an OS-level name shows in `top -H`, perf and /proc.
            Thread.current.name = name
            while running.load(ordering: .relaxed) { step() }
            exited.signal()
        }
        thread.start()
    }

    /// Asks the loop to stop and waits for the thread to leave it. Safe to call more than once.
    func stop() {
        if running.exchange(false, ordering: .sequentiallyConsistent) {
            exited.wait()
        }
    }

    var isRunning: Bool { running.load(ordering: .relaxed) }
}

/// Runs blocking librdkafka calls (flush, commit, admin requests) off the cooperative pool.
enum Blocking {
    private static let queue = DispatchQueue(label: "crmhub.kafka.blocking", attributes: .concurrent)

    static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }
}
