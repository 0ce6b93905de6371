import CRMDelivery
import CRMKafka
import CRMRedaction
import Foundation
import Logging

/// The sink side of an external-process connector: each message is written to the child as a `message` frame and
/// delivered when the child answers `ack`; `nack` with `"retry": false` is permanent (DLQ), any other `nack`, a
/// timeout or the child exiting is transient, so the ``SinkService`` retries it and its offset does not move.
public final class ProcessSinkTarget: SinkTarget {
    private let process: ConnectorProcess
    private let pending = PendingDeliveries()
    private let timeout: Duration

    public init(settings: ConnectorProcess.Settings, timeout: Duration = .seconds(30), logger: Logger) async {
        process = ConnectorProcess(settings: settings, logger: logger)
        self.timeout = timeout
        let pending = pending
        await process.start(
            onFrame: { frame in
                switch frame {
                case .ack(let id): await pending.finish(id, .delivered)
                case .nack(let id, let reason, let retry):
                    await pending.finish(
                        id,
                        retry
                            ? .transient(reason: "connector said: \(reason)")
                            : .permanent(reason: "connector said: \(reason)"))
                case .hello, .log, .message: break
                }
            },
            onExit: { await pending.failAll(.transient(reason: "the connector process exited before answering")) })
    }

    public var description: String { "process \(process.settings.command[0])" }

    public func deliver(_ message: SinkMessage) async -> SinkOutcome {
        var headers: [String: String] = [:]
        for header in message.headers { if let text = header.text { headers[header.key] = text } }
        let frame = ConnectorProcess.line(
            ConnectorProcess.messageFrame(id: message.id, key: message.key, headers: headers, value: message.value))
        let process = process
        let pending = pending
        let timeout = timeout
        let timer = Task {
            try? await Task.sleep(for: timeout)
            await pending.finish(
                message.id, .transient(reason: "the connector process did not answer within \(timeout)"))
        }
        defer { timer.cancel() }
        await process.remember(sent: message.value)
        let outcome = await pending.await(message.id) {
            await process.waitUntilReady()
            return await process.send(frame)
        }
        return Self.redacted(outcome, sent: message.value)
    }

    /// `outcome` with its reason (the child's `nack` text) through the installed ``RedactionPolicy``, including the
    /// personal values of the message it was sent.
    static func redacted(_ outcome: SinkOutcome, sent: [UInt8]) -> SinkOutcome {
        let redaction = RedactionPolicy.installed
        switch outcome {
        case .delivered: return .delivered
        case .transient(let reason, let retryAfter):
            return .transient(
                reason: redaction.redact(reason, echoing: redaction.personalValues(inJSON: sent)),
                retryAfter: retryAfter)
        case .permanent(let reason):
            return .permanent(reason: redaction.redact(reason, echoing: redaction.personalValues(inJSON: sent)))
        }
    }

    /// Stops the child.
    public func shutdown() async { await process.stop() }

    /// The child's pid (tests).
    public var childProcessIdentifier: Int32? { get async { await process.processIdentifier } }
}

/// Deliveries waiting for the child's answer, by message id.
actor PendingDeliveries {
    private var waiting: [String: CheckedContinuation<SinkOutcome, Never>] = [:]

    /// Registers a waiter for `id`, runs `send`, and waits for the answer. A failed send is transient at once.
    func await(_ id: String, send: @escaping @Sendable () async -> Bool) async -> SinkOutcome {
        await withCheckedContinuation { continuation in
            waiting.removeValue(forKey: id)?.resume(returning: .transient(reason: "superseded by a newer attempt"))
            waiting[id] = continuation
            Task { if !(await send()) { self.finish(id, .transient(reason: "the connector process is not running")) } }
        }
    }

    func finish(_ id: String, _ outcome: SinkOutcome) {
        waiting.removeValue(forKey: id)?.resume(returning: outcome)
    }

    func failAll(_ outcome: SinkOutcome) {
        let all = waiting
        waiting = [:]
        for continuation in all.values { continuation.resume(returning: outcome) }
    }
}
