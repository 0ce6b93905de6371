import CRMCSV
import CRMDelivery
import CRMModel
import CRMTestSupport
import Foundation
import Logging
import Testing

@testable import CRMBatch
@testable import CRMKafka

/// The import's per-row helper: the acknowledgement tracker (row checkpoint and offsets).
@Suite struct ImportPathTests {
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

    @Test func theCheckpointHasEachPartitionsOffsetWhenDoneRowsAlternatePartitions() {
        // The offset of the latest partition's rows is kept aside and folded in when another partition comes or a
        // checkpoint is read: every partition's offset must be in every checkpoint.
        let a = TopicPartition(topic: "out", partition: 0)
        let b = TopicPartition(topic: "out", partition: 1)
        let c = TopicPartition(topic: "other", partition: 0)
        let tracker = AckTracker(rowsDone: 0, scanFrom: [c: 3])
        for row in 1...9 { tracker.begin(row: row, messages: 1) }
        let partitions = [a, a, b, b, a, b, b, b, a]
        for (index, tp) in partitions.enumerated() {
            tracker.acknowledge(row: index + 1, result: Self.delivered(tp.topic, tp.partition, Int64(10 * (index + 1))))
            if index == 3 { #expect(tracker.checkpoint.scanFrom == [a: 21, b: 41, c: 3]) }
        }
        #expect(tracker.checkpoint.scanFrom == [a: 91, b: 81, c: 3])
        #expect(tracker.checkpoint.scanFrom == [a: 91, b: 81, c: 3], "reading a checkpoint changes nothing")
        #expect(tracker.checkpoint.rowsDone == 9)
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

/// Rows are built a chunk at a time, half of it on a child task (`MessageBuilder.build(_:)` of a chunk): the messages
/// must be those of building the rows one by one, in row order.
@Suite struct ChunkedBuildTests {
    @Test func aChunkBuiltOnSeveralTasksGivesTheMessagesOfBuildingRowByRow() async throws {
        let jobs = try BatchJob.loadAll(directory: repositoryRoot.appendingPathComponent("deploy/demo/batch").path)
        let job = try #require(jobs.first { $0.name == "customers-import" })
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chunks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = BatchEnvironment(
            kafka: KafkaClientConfiguration(bootstrapServers: ["127.0.0.1:1"]),
            mappings: try MappingRegistry(directory: repositoryRoot.appendingPathComponent("Mappings").path),
            state: try BatchStateStore(path: directory.appendingPathComponent("state.sqlite").path),
            workDirectory: directory, logger: Logger(label: "chunked-build-test"))
        let run = InboundRun(job: job, environment: environment, metrics: BatchMetrics(job: job.name, direction: "in"))

        // 1 500 rows: customers, rows the mapping drops or rejects (deleted, no id, a bad phone) and rows with the
        // wrong number of fields (read errors), so every kind of outcome is in both halves of the chunks.
        var csv = "id,first_name,last_name,email,phone,status,tier\n"
        for i in 1...1_500 {
            switch i % 7 {
            case 0: csv += "\(i),Ann,Lee,ann\(i)@example.com,020 7946 0018,X,gold\n"
            case 1: csv += ",Bo,Chan,bo\(i)@example.com,,A,\n"
            case 2: csv += "\(i),Cy\n"
            case 3: csv += "\(i),Di,Ng,di\(i)@example.com,12,I,silver\n"
            default: csv += "\(i),jane \(i),DOE,\" Jane.Doe\(i)@Example.com \",+44 7700 900\(i % 1000),P, gold \n"
            }
        }
        let path = directory.appendingPathComponent("customers-chunks.csv").path
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        var source = RowSource(job: job, path: path)
        try source.open()
        var rows: [ParsedRow] = []
        while let row = source.next() { rows.append(row) }
        #expect(rows.count == 1_500)

        let builder = MessageBuilder(
            run: run, file: "customers-chunks.csv", sha: String(repeating: "ab", count: 32),
            mapping: try environment.mapping(for: job), rows: source.rowObject)
        func text(_ messages: [MessageBuilder.OutgoingMessage]) -> [String] {
            messages.map { m in
                // Dead letters carry the time they were made; everything else must be equal.
                let headers = m.message.headers.filter { !$0.key.hasSuffix("-at") }.map {
                    "\($0.key)=\(String(decoding: $0.value, as: UTF8.self))"
                }
                return
                    "\(m.id) \(m.isDeadLetter) \(m.message.topic) \(String(decoding: m.message.key ?? [], as: UTF8.self)) "
                    + "\(String(decoding: m.message.value, as: UTF8.self)) \(headers)"
            }
        }
        let oneByOne = rows.map { text(builder.build($0)) }
        var chunked: [[String]] = []
        for start in stride(from: 0, to: rows.count, by: MessageBuilder.chunkRows) {
            let chunk = Array(rows[start..<min(start + MessageBuilder.chunkRows, rows.count)])
            chunked += await builder.build(chunk).map(text)
        }
        #expect(chunked.count == oneByOne.count)
        let firstDifference = chunked.indices.first { $0 < oneByOne.count && chunked[$0] != oneByOne[$0] }
        #expect(firstDifference == nil, "row \(firstDifference.map { $0 + 1 } ?? 0) differs")
        #expect(Set(oneByOne.flatMap { $0 }.map { $0.split(separator: " ")[1] }) == ["true", "false"])

        // Every record's crm-id is `<first 16 hex digits of the checksum>-<row>-<index>`, the form a resumed import
        // compares with what is on the topic, and its row and line headers are the decimal numbers.
        for (row, messages) in zip(rows, rows.map { builder.build($0) }) {
            for message in messages where !message.isDeadLetter {
                #expect(message.id == run.messageID(sha: String(repeating: "ab", count: 32), row: row.number, index: 0))
                #expect(message.message.headers.text(BatchHeader.row) == String(row.number))
                #expect(message.message.headers.text(BatchHeader.line) == String(row.line))
            }
        }
    }

    @Test(arguments: [0, 7, 10, 99, 1_000, 1_234_567, Int(Int32.max), Int.max])
    func decimalDigitsAreWhatStringGives(_ number: Int) {
        #expect(MessageBuilder.decimal(number) == Array(String(number).utf8))
        var bytes = Array("row-".utf8)
        MessageBuilder.appendDecimal(number, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "row-\(number)")
    }
}
