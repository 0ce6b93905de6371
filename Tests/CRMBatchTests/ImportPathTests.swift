import CRMModel
import Foundation
import Testing

@testable import CRMBatch
@testable import CRMKafka

/// The import's per-row helpers: the CSV row layout and the acknowledgement tracker (row checkpoint and offsets).
@Suite struct ImportPathTests {
    static func paths(_ header: [String]) -> [[String]] {
        header.map { $0.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
    }

    static let headers: [[String]] = [
        ["id", "first_name", "address.street", "address.city", "marketing.email", "address.zip", "status"],
        ["id", "address.city", "name", "address.city"],
        ["a", "a.b", "c"],
        ["a.b", "a", "c"],
        ["a.b.c", "a.b.d", "a.e", "f"],
        ["x..y", "", "x"],
        ["same", "same", "same"],
        ["na\"me", "a.b\\c", "tab\there"],
    ]

    @Test(arguments: headers)
    func rowTemplateBuildsTheObjectAndTheBytesSetPathBuilds(header: [String]) throws {
        let paths = Self.paths(header)
        let template = try #require(RowTemplate(header: paths))
        for row in 0..<3 {
            // The last row's values need escaping (quote, backslash, newline, a control character) or are not ASCII.
            let fields: [String] = header.indices.map { row == 2 ? "q\"u\\o\n\u{1}é-\($0)" : "v\(row)-\($0)" }
            var expected = JSONValue.object([])
            for (path, field) in zip(paths, fields) { expected.set(path: path[...], to: .string(field)) }
            let got: JSONValue = template.value(fields)
            #expect(got == expected)
            #expect(got.jsonBytes() == expected.jsonBytes())
            #expect(template.jsonBytes(fields) == expected.jsonBytes(), "written straight from the fields")
        }
    }

    static func delivered(_ topic: String, _ partition: Int32, _ offset: Int64) -> Result<DeliveryReport, KafkaError> {
        .success(
            DeliveryReport(
                topicPartition: TopicPartition(topic: topic, partition: partition), offset: offset, latency: 0))
    }

    @Test func theCheckpointCoversOnlyTheAcknowledgedPrefixWithTheOffsetsAfterItsMessages() {
        let a = TopicPartition(topic: "out", partition: 0)
        let b = TopicPartition(topic: "out", partition: 1)
        let tracker = AckTracker(rowsDone: 10, scanFrom: [a: 5])
        #expect(tracker.begin(row: 11, messages: 2).inFlight == 2)
        tracker.begin(row: 12, messages: 0)
        tracker.begin(row: 13, messages: 1)
        // Row 13 first: nothing is done until row 11 is.
        tracker.acknowledge(row: 13, result: Self.delivered("out", 1, 40))
        #expect(tracker.checkpoint.rowsDone == 10)
        tracker.acknowledge(row: 11, result: Self.delivered("out", 0, 7))
        #expect(tracker.checkpoint.rowsDone == 10)
        tracker.acknowledge(row: 11, result: Self.delivered("out", 1, 30))
        let checkpoint = tracker.checkpoint
        #expect(checkpoint.rowsDone == 13)
        #expect(checkpoint.scanFrom == [a: 8, b: 41])
        #expect(tracker.inFlight == 0)
        #expect(tracker.acknowledged == 3)
        tracker.begin(row: 14, messages: 1)
        tracker.acknowledge(row: 14, result: .failure(KafkaError(.produce, reason: "gone")))
        #expect(tracker.status.rowsDone == 13)
        #expect(throws: BatchError.self) { try tracker.check(job: "j") }
    }

    @Test func manyRowsInFlightAdvanceInOrder() {
        let tp = TopicPartition(topic: "out", partition: 0)
        let tracker = AckTracker(rowsDone: 0, scanFrom: [:])
        for row in 1...20_000 { tracker.begin(row: row, messages: 1) }
        // Acknowledge the even rows first, then the odd ones.
        for row in stride(from: 2, through: 20_000, by: 2) {
            tracker.acknowledge(row: row, result: Self.delivered("out", 0, Int64(row)))
        }
        #expect(tracker.checkpoint.rowsDone == 0)
        for row in stride(from: 1, through: 19_999, by: 2) {
            tracker.acknowledge(row: row, result: Self.delivered("out", 0, Int64(row)))
            #expect(tracker.rowsDone == row + 1)
        }
        #expect(tracker.checkpoint.scanFrom == [tp: 20_001])
        tracker.begin(row: 20_001, messages: 0)
        #expect(tracker.rowsDone == 20_001)
    }
}
