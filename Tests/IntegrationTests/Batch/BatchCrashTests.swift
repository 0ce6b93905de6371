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

    static func hasCheckpoint(_ line: Substring) -> Bool {
        let row: Int = checkpointRow(line) ?? 0
        return row > 0
    }

    static func isProgress(_ line: Substring) -> Bool { line.contains("progress:") }

    static func rowNumber(_ message: ConsumerMessage) -> Int? {
        guard let text = message.headers.text(BatchHeader.row) else { return nil }
        return Int(text)
    }

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
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.import", "batch.big-import.dlq"])
        var text = "id,name,city\n"
        for i in 1...Self.rows { text += "\(i),\"Name \(i)\",City\n" }
        try text.write(to: drop.appendingPathComponent("big.csv"), atomically: true, encoding: .utf8)

        let first = try ChildProcess.crmhub(["batch", "run", "big-import", "--config", config])
        let sawCheckpoint: Bool = await first.kill9(onLine: Self.hasCheckpoint, within: 60)
        let firstLog: String = String(first.errorOutput.suffix(2_000))
        #expect(sawCheckpoint, Comment(rawValue: "no checkpoint progress line before the kill; stderr: " + firstLog))
        let before: Int = try await KafkaTestClient.readAll(broker.bootstrap, topic: "crm.import").count
        #expect(before < Self.rows, "the first run finished before it was killed; use a bigger file")
        let notMoved: Bool = FileManager.default.fileExists(atPath: drop.appendingPathComponent("big.csv").path)
        #expect(notMoved)

        let second = try ChildProcess.crmhub(["batch", "run", "big-import", "--config", config])
        _ = await second.waitForExit(timeout: .seconds(120))
        second.kill9()
        let status: Int32 = second.terminationStatus
        let secondLog: String = second.errorOutput
        #expect(status == 0, Comment(rawValue: "stderr: " + String(secondLog.suffix(2_000))))
        #expect(secondLog.contains("resume"))
        let resumeLine: String =
            secondLog.split(separator: "\n").first { $0.contains("resume") }.map(String.init) ?? "-"
        print("inbound crash test: \(before) messages on the topic at the kill; \(resumeLine)")

        let messages: [ConsumerMessage] = try await KafkaTestClient.readAll(broker.bootstrap, topic: "crm.import")
        let ids: [String] = messages.compactMap { (m: ConsumerMessage) -> String? in m.headers.text("crm-id") }
        let distinct: Set<String> = Set(ids)
        let rowNumbers: [Int] = messages.compactMap { (m: ConsumerMessage) -> Int? in Self.rowNumber(m) }
        let rowsSeen: Set<Int> = Set(rowNumbers)
        let duplicates: Int = messages.count - distinct.count
        #expect(
            messages.count == Self.rows,
            Comment(rawValue: "\(duplicates) duplicates; \(before) messages before the restart"))
        #expect(distinct.count == Self.rows)
        #expect(rowsSeen.count == Self.rows)
        #expect(rowsSeen.min() == 1 && rowsSeen.max() == Self.rows)
        let archived: [String] = try FileManager.default.contentsOfDirectory(
            atPath: drop.appendingPathComponent("archive").path)
        #expect(archived == ["big.csv"])
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
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.export"])
        try await KafkaTestClient.produce(
            broker.bootstrap, topic: "crm.export", values: (1...Self.rows).map { "{\"n\":\($0)}" })

        let first = try ChildProcess.crmhub([
            "batch", "run", "big-export", "--config", config, "--window", "2026-11-25T02:00:00Z",
        ])
        let sawProgress: Bool = await first.kill9(onLine: Self.isProgress, within: 60)
        let firstLog: String = String(first.errorOutput.suffix(2_000))
        #expect(sawProgress, Comment(rawValue: "no progress line before the kill; stderr: " + firstLog))
        let afterKill: [String] = try FileManager.default.contentsOfDirectory(atPath: drop.path)
        #expect(afterKill.isEmpty, "the first run published before it was killed")
        // Messages produced after the crash belong to the next window.
        try await KafkaTestClient.produce(broker.bootstrap, topic: "crm.export", values: ["{\"n\":0}"])

        let second = try ChildProcess.crmhub([
            "batch", "run", "big-export", "--config", config, "--window", "2026-11-25T03:00:00Z",
        ])
        _ = await second.waitForExit(timeout: .seconds(120))
        second.kill9()
        let status: Int32 = second.terminationStatus
        let secondLog: String = String(second.errorOutput.suffix(2_000))
        #expect(status == 0, Comment(rawValue: "stderr: " + secondLog))
        let files: [String] = try FileManager.default.contentsOfDirectory(atPath: drop.path)
        #expect(
            files == ["export-20261125T0200Z.jsonl"], "the re-run must rewrite the crashed window's file, nothing else")
        let text: String = try String(
            contentsOfFile: drop.appendingPathComponent("export-20261125T0200Z.jsonl").path, encoding: .utf8)
        let lines: [String] = text.components(separatedBy: "\n").filter { !$0.isEmpty }
        let distinct: Set<String> = Set(lines)
        #expect(lines.count == Self.rows)
        #expect(distinct.count == Self.rows)
        #expect(!distinct.contains("{\"n\":0}"))
    }
}
