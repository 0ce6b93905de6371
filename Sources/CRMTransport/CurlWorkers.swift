import CCurl
import Foundation

/// A fixed set of threads that run blocking libcurl transfers, so callers `await` without ever blocking Swift's
/// cooperative pool. Each thread keeps one easy handle (reset between transfers), which keeps connections alive
/// to the hosts it talked to.
final class CurlWorkers: Sendable {
    typealias Job = (UnsafeMutableRawPointer) -> Void

    /// The queue the threads share. Threads hold it, not the workers, so dropping the last reference to the
    /// workers stops the threads (after the queued jobs ran) instead of leaving them pointing at freed memory.
    private final class JobQueue: @unchecked Sendable {
        let condition = NSCondition()
        var jobs: [Job] = []  // guarded by `condition`
        var stopped = false  // guarded by `condition`

        func work() {
            guard let handle = curl_easy_init() else { return }
            defer { curl_easy_cleanup(handle) }
            while true {
                condition.lock()
                while jobs.isEmpty && !stopped { condition.wait() }
                if jobs.isEmpty && stopped {
                    condition.unlock()
                    return
                }
                let job = jobs.removeFirst()
                condition.unlock()
                curl_easy_reset(handle)
                job(handle)
            }
        }
    }

    private let queue = JobQueue()

    static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    init(count: Int, name: String) {
        _ = Self.globalInit
        let queue = queue
        for index in 0..<max(count, 1) {
            let thread = Thread { queue.work() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    deinit { shutdown() }

    /// Stops the threads once the queued jobs ran.
    func shutdown() {
        queue.condition.withLock {
            queue.stopped = true
            queue.condition.broadcast()
        }
    }

    /// Runs `body` with an easy handle on a worker thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (UnsafeMutableRawPointer) -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.condition.withLock {
                queue.jobs.append { handle in continuation.resume(returning: body(handle)) }
                queue.condition.signal()
            }
        }
    }
}
