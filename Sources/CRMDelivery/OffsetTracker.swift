import CRMKafka
import Synchronization

/// Knows, per partition, which consumed offsets are still in flight, and so which offset is safe to commit:
/// never past a message that is not finished, whatever order messages finish in.
public final class OffsetTracker: Sendable {
    private struct PartitionState {
        /// Offsets handed out, ascending; `done[i]` says whether `offsets[i]` finished.
        var offsets: [Int64] = []
        var done: [Bool] = []
        var head = 0
        /// The next offset to read once everything before it finished; nil before the first message.
        var committable: Int64?
        var lastCommitted: Int64?

        mutating func track(_ offset: Int64) {
            if let last = offsets.last, offset <= last { return }  // a re-delivery of an offset already tracked
            if head == offsets.count {
                // Nothing pending: restart the arrays so they don't grow without bound.
                offsets.removeAll(keepingCapacity: true)
                done.removeAll(keepingCapacity: true)
                head = 0
            }
            offsets.append(offset)
            done.append(false)
        }

        mutating func finish(_ offset: Int64) {
            guard head < offsets.count, let index = search(offset) else { return }
            done[index] = true
            while head < offsets.count, done[head] {
                committable = offsets[head] + 1
                head += 1
            }
            if head > 4_096 && head * 2 > offsets.count {
                offsets.removeFirst(head)
                done.removeFirst(head)
                head = 0
            }
        }

        private func search(_ offset: Int64) -> Int? {
            var low = head
            var high = offsets.count - 1
            while low <= high {
                let middle = (low + high) / 2
                if offsets[middle] == offset { return middle }
                if offsets[middle] < offset { low = middle + 1 } else { high = middle - 1 }
            }
            return nil
        }

        var inFlight: Int { offsets.count - head }
    }

    private let partitions = Mutex<[TopicPartition: PartitionState]>([:])

    public init() {}

    /// Registers a consumed message as in flight.
    public func track(_ partition: TopicPartition, offset: Int64) {
        partitions.withLock { $0[partition, default: PartitionState()].track(offset) }
    }

    /// Marks a message finished (delivered downstream, or deliberately skipped).
    public func finish(_ partition: TopicPartition, offset: Int64) {
        partitions.withLock { states in
            // Changed in place through `values`: `states[partition]?.finish(offset)` copied the dictionary and both of
            // the partition's arrays for every finished message (three allocations and every in-flight offset copied).
            guard let index = states.index(forKey: partition) else { return }
            states.values[index].finish(offset)
        }
    }

    /// Offsets that advanced since the last call, to commit. Marks them as committed.
    public func takeCommittable() -> [TopicPartitionOffset] {
        partitions.withLock { states in
            var result: [TopicPartitionOffset] = []
            for (partition, state) in states {
                guard let next = state.committable, next != state.lastCommitted else { continue }
                result.append(TopicPartitionOffset(partition, offset: next))
                states[partition]?.lastCommitted = next
            }
            return result
        }
    }

    /// Called when partitions are revoked: returns their finished offsets to commit and forgets them.
    public func revoke(_ revoked: [TopicPartition]) -> [TopicPartitionOffset] {
        partitions.withLock { states in
            revoked.compactMap { partition in
                defer { states[partition] = nil }
                guard let next = states[partition]?.committable, next != states[partition]?.lastCommitted else {
                    return nil
                }
                return TopicPartitionOffset(partition, offset: next)
            }
        }
    }

    /// Messages in flight across all partitions.
    public var inFlightCount: Int { partitions.withLock { $0.values.reduce(0) { $0 + $1.inFlight } } }
}
