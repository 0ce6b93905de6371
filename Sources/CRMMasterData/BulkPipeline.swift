// CRMMasterData — the hand-over of batches from a reading thread to the thread that resolves (bulk runs).

import Foundation

/// Batches handed from one producing thread to one consuming thread, at most `capacity` waiting: the producer
/// blocks when the consumer is behind, so the batches in flight (and their memory) stay bounded.
final class BatchQueue<Batch: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: [Batch] = []
    private var finished = false
    private var failure: (any Error)?
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Hands over a batch (waits while `capacity` batches are waiting).
    func put(_ batch: Batch) {
        condition.lock()
        while waiting.count >= capacity { condition.wait() }
        waiting.append(batch)
        condition.broadcast()
        condition.unlock()
    }

    /// No more batches; `error` is what stopped the producer, if anything did.
    func finish(_ error: (any Error)? = nil) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch; nil once the producer finished and every batch was taken. Throws the producer's error.
    func take() throws -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while waiting.isEmpty && !finished { condition.wait() }
        if let failure { throw failure }
        guard !waiting.isEmpty else { return nil }
        let batch = waiting.removeFirst()
        condition.broadcast()
        return batch
    }
}

/// A value computed on a thread of its own (nil: there is none); `value()` waits for it.
final class BackgroundResult<Value: Sendable>: Sendable {
    private let queue = BatchQueue<Value>(capacity: 1)

    init(_ work: @escaping @Sendable () -> Value?) {
        let queue = self.queue
        Thread {
            if let value = work() { queue.put(value) }
            queue.finish()
        }.start()
    }

    func value() -> Value? { try? queue.take() }
}
