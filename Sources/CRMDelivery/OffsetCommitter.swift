import CRMKafka
import Logging

/// Commits what an ``OffsetTracker`` says is finished, for partitions the consumer still owns: every 250 ms while
/// running, and once more when stopped. Shared by routes, sinks and the workflow rules' views.
public final class OffsetCommitter: Sendable {
    private let tracker: OffsetTracker
    private let consumer: KafkaConsumer
    private let logger: Logger
    private let loop: Task<Void, Never>

    public init(tracker: OffsetTracker, consumer: KafkaConsumer, logger: Logger) {
        self.tracker = tracker
        self.consumer = consumer
        self.logger = logger
        loop = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                await Self.commit(tracker: tracker, consumer: consumer, logger: logger)
            }
        }
    }

    /// Stops the periodic commits and commits what is finished now.
    public func stop() async {
        loop.cancel()
        await Self.commit(tracker: tracker, consumer: consumer, logger: logger)
    }

    private static func commit(tracker: OffsetTracker, consumer: KafkaConsumer, logger: Logger) async {
        let offsets = tracker.takeCommittable().filter { consumer.isAssigned($0.topicPartition) }
        guard !offsets.isEmpty else { return }
        do {
            try await consumer.commit(offsets)
        } catch {
            // The offsets stay uncommitted; the next commit carries newer ones. At worst, messages are re-read.
            logger.warning(
                "commit failed", metadata: ["error": "\(error)", "offsets": "\(offsets.map(\.description))"])
        }
    }
}
