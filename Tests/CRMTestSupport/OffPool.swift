import Foundation

/// Runs blocking test set-up (a peer's initialiser spawns processes and waits for its port; `psql` runs to its end)
/// on a thread of its own and suspends until it is done.
///
/// Swift Testing runs suites in parallel on a cooperative pool as wide as the machine has cores (two here). A peer
/// that blocks a pool thread for seconds while it starts stalls every in-process service of the tests running beside
/// it: an ingress handler then misses its client's timeout although nothing is wrong with it. Start such peers as
/// `let mail = try await offPool { try MailServer() }`.
public func offPool<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try work() })
        }
        thread.name = "crmhub-test-setup"
        thread.start()
    }
}
