import CRMKafka
import CRMMapping
import CRMModel
import Testing

@testable import CRMDelivery

@Suite struct OffsetTrackerTests {
    let partition = TopicPartition(topic: "t", partition: 0)

    @Test func commitsNothingBeforeAnythingFinished() {
        let tracker = OffsetTracker()
        tracker.track(partition, offset: 0)
        #expect(tracker.takeCommittable().isEmpty)
    }

    @Test func neverCommitsPastAMessageStillInFlight() {
        let tracker = OffsetTracker()
        for offset in 0..<5 { tracker.track(partition, offset: Int64(offset)) }
        tracker.finish(partition, offset: 0)
        tracker.finish(partition, offset: 2)
        tracker.finish(partition, offset: 3)
        #expect(tracker.takeCommittable() == [TopicPartitionOffset(partition, offset: 1)])
        tracker.finish(partition, offset: 1)
        #expect(tracker.takeCommittable() == [TopicPartitionOffset(partition, offset: 4)])
        tracker.finish(partition, offset: 4)
        #expect(tracker.takeCommittable() == [TopicPartitionOffset(partition, offset: 5)])
        #expect(tracker.takeCommittable().isEmpty, "an unchanged offset is not committed twice")
    }

    @Test func handlesGapsInOffsetsLikeCompactedOrTransactionalTopics() {
        let tracker = OffsetTracker()
        for offset: Int64 in [10, 11, 15, 20] { tracker.track(partition, offset: offset) }
        for offset: Int64 in [20, 15, 11, 10] { tracker.finish(partition, offset: offset) }
        #expect(tracker.takeCommittable() == [TopicPartitionOffset(partition, offset: 21)])
    }

    @Test func revokeReturnsFinishedOffsetsAndForgetsThePartition() {
        let tracker = OffsetTracker()
        for offset in 0..<3 { tracker.track(partition, offset: Int64(offset)) }
        tracker.finish(partition, offset: 0)
        #expect(tracker.revoke([partition]) == [TopicPartitionOffset(partition, offset: 1)])
        #expect(tracker.inFlightCount == 0)
        tracker.finish(partition, offset: 1)  // a late acknowledgement for a revoked partition is ignored
        #expect(tracker.takeCommittable().isEmpty)
    }

    @Test func staysCorrectOverManyRandomCompletionOrders() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let tracker = OffsetTracker()
            let count = Int.random(in: 1...300, using: &generator)
            for offset in 0..<count { tracker.track(partition, offset: Int64(offset)) }
            var finished = Set<Int64>()
            for offset in (0..<count).map(Int64.init).shuffled(using: &generator) {
                tracker.finish(partition, offset: offset)
                finished.insert(offset)
                var expected: Int64 = 0
                while finished.contains(expected) { expected += 1 }
                if let committed = tracker.takeCommittable().first {
                    #expect(committed.offset == expected)
                }
            }
            #expect(tracker.inFlightCount == 0)
        }
    }
}
