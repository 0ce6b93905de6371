import Foundation

/// Checks `condition` every `poll` until it holds or `timeout` has passed, and says whether it held.
///
/// The one bounded waiting loop of the tests: the condition is checked at once, then after each pause, and a last
/// time at the deadline, so a condition that turns true while the loop sleeps is still seen. Cancelling the task
/// ends the wait early (the answer is then whether the condition holds at that moment). Errors the condition throws
/// are passed on at once.
///
///     #expect(await eventually(timeout: .seconds(10)) { connector.status.isConnected })
///
/// - Returns: true as soon as `condition` returned true; false if it never did within `timeout`.
@discardableResult
public func eventually(
    timeout: Duration, poll: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        if Task.isCancelled { break }
        try? await Task.sleep(for: min(poll, max(.zero, deadline - ContinuousClock.now)))
    }
    return try await condition()
}
