import CCurl
import Foundation

/// A fixed set of threads that run blocking libcurl transfers, so callers `await` without ever blocking Swift's
/// cooperative pool. Each thread keeps one easy handle (reset between transfers), which keeps connections alive
/// to the hosts it talked to.
final class CurlWorkers: @unchecked Sendable {
    typealias Job = (UnsafeMutableRawPointer) -> Void

    private let condition = NSCondition()
    private var jobs: [Job] = []  // guarded by `condition`
    private var stopped = false  // guarded by `condition`
    private var threads: [Thread] = []

    static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    init(count: Int, name: String) {
        _ = Self.globalInit
        for index in 0..<max(count, 1) {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "\(name)-\(index)"
            thread.start()
            threads.append(thread)
        }
    }

    /// Stops the threads once the queued jobs ran.
    func shutdown() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }

    /// Runs `body` with an easy handle on a worker thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (UnsafeMutableRawPointer) -> T) async -> T {
        await withCheckedContinuation { continuation in
            condition.withLock {
                jobs.append { handle in continuation.resume(returning: body(handle)) }
                condition.signal()
            }
        }
    }

    private func work() {
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
