import CRMBatch
import CRMKafka
import CRMTestSupport
import Foundation
import Testing

/// `crmhub batch run` killed with SIGKILL mid-file, then run again: the topic holds each row exactly once, the
/// drop folder exactly one complete file.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BatchCrashTests {
    static let rows = 50_000

    /// Parses "checkpoint row N" from a progress line.
    static func checkpointRow(_ line: Substring) -> Int? {
        guard let range = line.range(of: "checkpoint row ") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    @Test func inboundImportKilledMidFileResumesWithoutDuplicatesOrGaps() async throws {
        let broker = try TansuBroker()
        let root = try BatchTestSupport.temporaryDirectory("batch-crash-in")
        let drop = root.appendingPathComponent("imports")
        try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
        let config = try BatchTestSupport.writeHubConfiguration(in: root, broker: broker.bootstrap)
        try """
        name: big-import
        direction: inbound
        drop: file://\(drop.path)
        pattern: "*.csv"
        to: crm.import
        checkpoint_rows: 500
        settle_seconds: 0
        progress_seconds: 0.1
        """.write(toFile: root.appendingPathComponent("Batch/import.yaml").path, atomically: true, encoding: .utf8)
        try await BatchTestSupport.createTopics(broker.bootstrap, ["crm.import", "batch.big-import.dlq"])
        var text = "id,name,city\n"
        for i in 1...Self.rows { text += "\(i),\"Name \(i)\",City\n" }
        try text.write(to: drop.appendingPathComponent("big.csv"), atomically: true, encoding: .utf8)

        let first = try ChildProcess(["batch", "run", "big-import", "--config", config])
        let sawCheckpoint = first.waitForLine(within: 60) { (Self.checkpointRow($0) ?? 0) > 0 }
        first.kill9()
        #expect(sawCheckpoint, "no checkpoint progress line before the kill; stderr: \(first.stderr.suffix(2_000))")
        let before = try await BatchTestSupport.readAll(broker.bootstrap, topic: "crm.import").count
        #expect(before < Self.rows, "the first run finished before it was killed; use a bigger file")
        #expect(FileManager.default.fileExists(atPath: drop.appendingPathComponent("big.csv").path))

        let second = try ChildProcess(["batch", "run", "big-import", "--config", config])
        let status = second.waitForExit(within: 90)
        #expect(status == 0, "stderr: \(second.stderr.suffix(2_000))")
        #expect(second.stderr.contains("resume"))

        let messages = try await BatchTestSupport.readAll(broker.bootstrap, topic: "crm.import")
        let ids = messages.compactMap { $0.headers.text("crm-id") }
        let rowsSeen = Set(messages.compactMap { $0.headers.text(BatchHeader.row).flatMap(Int.init) })
        #expect(messages.count == Self.rows, "\(messages.count - Set(ids).count) duplicates; \(before) messages before the restart")
        #expect(Set(ids).count == Self.rows)
        #expect(rowsSeen == Set(1...Self.rows))
        #expect(try FileManager.default.contentsOfDirectory(atPath: drop.appendingPathComponent("archive").path) == ["big.csv"])
    }

    @Test func outboundExportKilledMidRunRewritesTheSameSingleFile() async throws {
        let broker = try TansuBroker()
        let root = try BatchTestSupport.temporaryDirectory("batch-crash-out")
        let drop = root.appendingPathComponent("exports")
        try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
        let config = try BatchTestSupport.writeHubConfiguration(in: root, broker: broker.bootstrap)
        try """
        name: big-export
        direction: outbound
        topics: [crm.export]
        format: {type: jsonl}
        drop: file://\(drop.path)
        file_name: "export-{window}.jsonl"
        progress_seconds: 0.1
        """.write(toFile: root.appendingPathComponent("Batch/export.yaml").path, atomically: true, encoding: .utf8)
        try await BatchTestSupport.createTopics(broker.bootstrap, ["crm.export"])
        try await BatchTestSupport.produce(broker.bootstrap, topic: "crm.export", values: (1...Self.rows).map { "{\"n\":\($0)}" })

        let first = try ChildProcess(["batch", "run", "big-export", "--config", config, "--window", "2026-11-25T02:00:00Z"])
        let sawProgress = first.waitForLine(within: 60) { $0.contains("progress:") }
        first.kill9()
        #expect(sawProgress, "no progress line before the kill; stderr: \(first.stderr.suffix(2_000))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: drop.path).isEmpty, "the first run published before it was killed")
        // Messages produced after the crash belong to the next window.
        try await BatchTestSupport.produce(broker.bootstrap, topic: "crm.export", values: ["{\"n\":0}"])

        let second = try ChildProcess(["batch", "run", "big-export", "--config", config, "--window", "2026-11-25T03:00:00Z"])
        let status = second.waitForExit(within: 90)
        #expect(status == 0, "stderr: \(second.stderr.suffix(2_000))")
        let files = try FileManager.default.contentsOfDirectory(atPath: drop.path)
        #expect(files == ["export-20261125T0200Z.jsonl"], "the re-run must rewrite the crashed window's file, nothing else")
        let lines = try String(contentsOfFile: drop.appendingPathComponent("export-20261125T0200Z.jsonl").path, encoding: .utf8)
            .split(separator: "\n")
        #expect(lines.count == Self.rows)
        #expect(Set(lines).count == Self.rows)
        #expect(!lines.contains("{\"n\":0}"))
    }
}
