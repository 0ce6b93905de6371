import CRMBatch
import CRMHub
import CRMKafka
import CRMTestSupport
import Foundation
import Testing

/// Outbound and inbound runs in process against a real broker (Tansu) and a local drop folder.
@Suite(.timeLimit(.minutes(2)))
struct BatchRunTests {
    static func customer(_ i: Int) -> String {
        "{\"id\":\"c\(i)\",\"displayName\":\"Customer \(i), Ltd\",\"emails\":[\"c\(i)@example.com\"]}"
    }

    func outboundJob(drop: URL, empty: String = "header-only") -> String {
        """
        name: customers-export
        direction: outbound
        topics: [crm.customer]
        format:
          type: csv
          columns: [id, {name: name, path: displayName}, {name: email, path: emails.0}]
        drop: file://\(drop.path)
        file_name: "customers-{window}.csv"
        empty: \(empty)
        progress_seconds: 0.2
        """
    }

    @Test func outboundRunExportsTheWindowToOneFileAndCommitsTheCheckpoint() async throws {
        let broker = try TansuBroker()
        let root = try BatchTestSupport.temporaryDirectory("batch-out")
        let drop = root.appendingPathComponent("exports")
        try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
        let config = try BatchTestSupport.writeHubConfiguration(in: root, broker: broker.bootstrap)
        try outboundJob(drop: drop, empty: "skip").write(
            toFile: root.appendingPathComponent("Batch/export.yaml").path, atomically: true, encoding: .utf8)
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.customer"])
        try await KafkaTestClient.produce(broker.bootstrap, topic: "crm.customer", values: (1...25).map(Self.customer))

        let (environment, jobs) = try BatchTestSupport.environment(configuration: config)
        let runner = BatchRunner(environment: environment)
        let window = try Date("2026-11-25T02:00:00Z", strategy: .iso8601)
        let report = try await runner.run(try #require(jobs.first), window: window)
        #expect(report.status == .succeeded, Comment(rawValue: report.detail))
        #expect(report.rowsRead == 25)
        #expect(report.rowsProduced == 25)
        let files: [String] = try FileManager.default.contentsOfDirectory(atPath: drop.path).sorted()
        #expect(files == ["customers-20261125T0200Z.csv"])
        let text: String = try String(
            contentsOfFile: drop.appendingPathComponent("customers-20261125T0200Z.csv").path, encoding: .utf8)
        let lines: [String] = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.first == "id,name,email")
        var expected: [String] = []
        for i in 1...25 { expected.append("c\(i),\"Customer \(i), Ltd\",c\(i)@example.com") }
        let body: [String] = Array(lines.dropFirst()).sorted()
        #expect(body == expected.sorted())
        #expect(report.checksums.count == 1)

        // Nothing new: the next window is empty and, with `empty: skip`, writes no file.
        let second = try await runner.run(try #require(jobs.first), window: window.addingTimeInterval(86_400))
        #expect(second.status == .empty)
        let afterEmpty: [String] = try FileManager.default.contentsOfDirectory(atPath: drop.path).sorted()
        #expect(afterEmpty == files)

        // New messages go to the next window's file only.
        try await KafkaTestClient.produce(broker.bootstrap, topic: "crm.customer", values: (26...30).map(Self.customer))
        let third = try await runner.run(try #require(jobs.first), window: window.addingTimeInterval(2 * 86_400))
        #expect(third.rowsProduced == 5)
        let history: [BatchRunReport] = try environment.state.history(job: "customers-export")
        let statuses: [BatchRunReport.Status] = history.map { $0.status }
        #expect(statuses == [.succeeded, .empty, .succeeded])
    }

    @Test func outboundRerunAfterAFailedPublishWritesTheSameSingleFile() async throws {
        let broker = try TansuBroker()
        let root = try BatchTestSupport.temporaryDirectory("batch-out-fail")
        let drop = root.appendingPathComponent("exports")  // missing: the first publish fails
        let config = try BatchTestSupport.writeHubConfiguration(in: root, broker: broker.bootstrap)
        try outboundJob(drop: drop).write(
            toFile: root.appendingPathComponent("Batch/export.yaml").path, atomically: true, encoding: .utf8)
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.customer"])
        try await KafkaTestClient.produce(broker.bootstrap, topic: "crm.customer", values: (1...10).map(Self.customer))
        let (environment, jobs) = try BatchTestSupport.environment(configuration: config)
        let runner = BatchRunner(environment: environment)
        let job = try #require(jobs.first)
        let first = try await runner.run(job, window: try Date("2026-11-25T02:00:00Z", strategy: .iso8601))
        #expect(first.status == .failed)

        // Messages arriving after the failed run's cut-off belong to the next window, not to the rewritten file.
        try await KafkaTestClient.produce(broker.bootstrap, topic: "crm.customer", values: (11...14).map(Self.customer))
        try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
        let retry = try await runner.run(job, window: try Date("2026-11-25T03:00:00Z", strategy: .iso8601))
        #expect(retry.status == .succeeded, Comment(rawValue: retry.detail))
        #expect(retry.files == ["customers-20261125T0200Z.csv"])
        #expect(retry.rowsProduced == 10)
        let afterRetry: [String] = try FileManager.default.contentsOfDirectory(atPath: drop.path)
        #expect(afterRetry == ["customers-20261125T0200Z.csv"])
        let next = try await runner.run(job, window: try Date("2026-11-26T02:00:00Z", strategy: .iso8601))
        #expect(next.rowsProduced == 4)
        let afterNext: [String] = try FileManager.default.contentsOfDirectory(atPath: drop.path).sorted()
        #expect(afterNext == ["customers-20261125T0200Z.csv", "customers-20261126T0200Z.csv"])
    }

    func inboundJob(drop: URL, extra: String = "") -> String {
        """
        name: customers-import
        direction: inbound
        drop: file://\(drop.path)
        pattern: "customers-*.csv"
        mapping: crm-customer-import
        to: {customer: crm.customer}
        format: {type: csv, delimiter: ";"}
        dead_letter_topic: batch.dlq
        settle_seconds: 0
        progress_seconds: 0.2
        \(extra)
        """
    }

    @Test func inboundRunProducesEachRowOnceSendsBadRowsToTheDLQWithLinesAndArchivesTheFile() async throws {
        let broker = try TansuBroker()
        let root = try BatchTestSupport.temporaryDirectory("batch-in")
        let drop = root.appendingPathComponent("imports")
        try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
        let config = try BatchTestSupport.writeHubConfiguration(in: root, broker: broker.bootstrap)
        try inboundJob(drop: drop).write(
            toFile: root.appendingPathComponent("Batch/import.yaml").path, atomically: true, encoding: .utf8)
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.customer", "batch.dlq"])

        var bytes = Array("\u{FEFF}id;first_name;last_name;email;status\r\n".utf8)
        for i in 1...20 {
            switch i {
            case 7: bytes += Array("7;Bad;Status;b@example.com;Q\r\n".utf8)  // line 8: mapping error (unknown status)
            case 12: bytes += Array("12;only;three\r\n".utf8)  // line 13: wrong field count
            case 15: bytes += Array("15;\"multi\nline\";Name;m@example.com;A\r\n".utf8)  // lines 16-17
            default: bytes += Array("\(i);First\(i);Last;p\(i)@example.com;A\r\n".utf8)
            }
        }
        try Data(bytes).write(to: drop.appendingPathComponent("customers-1.csv"))

        let (environment, jobs) = try BatchTestSupport.environment(configuration: config)
        let report = try await BatchRunner(environment: environment).run(try #require(jobs.first))
        #expect(report.status == .succeeded, Comment(rawValue: report.detail))
        #expect(report.rowsRead == 20)
        #expect(report.rowsProduced == 20)  // 18 customers + 2 dead letters, all acknowledged
        #expect(report.rowsRejected == 2)

        let customers: [ConsumerMessage] = try await KafkaTestClient.readAll(broker.bootstrap, topic: "crm.customer")
        #expect(customers.count == 18)
        let customerIDs: Set<String> = Set(
            customers.compactMap { (m: ConsumerMessage) -> String? in m.headers.text("crm-id") })
        #expect(customerIDs.count == 18)
        let values: [String] = customers.map { (m: ConsumerMessage) -> String in
            String(decoding: m.value, as: UTF8.self)
        }
        let hasMultiline: Bool = values.contains { (v: String) -> Bool in v.contains("\"id\":\"crm:15\"") }
        #expect(hasMultiline)
        let dead: [ConsumerMessage] = try await KafkaTestClient.readAll(broker.bootstrap, topic: "batch.dlq")
        let sources: [String] = dead.compactMap { (m: ConsumerMessage) -> String? in m.headers.text("crm-dlq-source") }
            .sorted()
        #expect(sources == ["file:customers-1.csv:13", "file:customers-1.csv:8"])
        let reasons: [String] = dead.map { (m: ConsumerMessage) -> String in m.headers.text("crm-dlq-reason") ?? "" }
        let reasonsNameTheFile: Bool = reasons.allSatisfy { (r: String) -> Bool in r.contains("customers-1.csv line") }
        #expect(reasonsNameTheFile)
        // What each dead letter carries: the row's object for the row the mapping refused, the row as CSV for the row
        // that could not be read.
        let deadValues: [String: String] = Dictionary(
            dead.map { (m: ConsumerMessage) -> (String, String) in
                (m.headers.text("crm-dlq-source") ?? "", String(decoding: m.value, as: UTF8.self))
            }, uniquingKeysWith: { first, _ in first })
        #expect(
            deadValues["file:customers-1.csv:8"]
                == #"{"id":"7","first_name":"Bad","last_name":"Status","email":"b@example.com","status":"Q"}"#)
        #expect(deadValues["file:customers-1.csv:13"] == "12;only;three\r\n")

        let archived: [String] = try FileManager.default.contentsOfDirectory(
            atPath: drop.appendingPathComponent("archive").path)
        #expect(archived == ["customers-1.csv"])
        let stillThere: Bool = FileManager.default.fileExists(
            atPath: drop.appendingPathComponent("customers-1.csv").path)
        #expect(!stillThere)

        // The same content dropped again under another name is rejected as a duplicate, producing nothing.
        try Data(bytes).write(to: drop.appendingPathComponent("customers-2.csv"))
        let again = try await BatchRunner(environment: environment).run(try #require(jobs.first))
        #expect(again.rowsProduced == 0)
        let rejected: [String] = try FileManager.default.contentsOfDirectory(
            atPath: drop.appendingPathComponent("rejected").path
        ).sorted()
        #expect(rejected == ["customers-2.csv", "customers-2.csv.report.json"])
        let afterDuplicate: Int = try await KafkaTestClient.readAll(broker.bootstrap, topic: "crm.customer").count
        #expect(afterDuplicate == 18)
    }

    @Test func inboundFileWithAWrongHeaderIsRejectedWithAReportAndNothingProduced() async throws {
        let broker = try TansuBroker()
        let root = try BatchTestSupport.temporaryDirectory("batch-in-reject")
        let drop = root.appendingPathComponent("imports")
        try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
        let config = try BatchTestSupport.writeHubConfiguration(in: root, broker: broker.bootstrap)
        let job = inboundJob(drop: drop).replacingOccurrences(
            of: "format: {type: csv, delimiter: \";\"}",
            with: "format: {type: csv, delimiter: \";\", columns: [id, first_name, last_name, email, status]}")
        try job.write(toFile: root.appendingPathComponent("Batch/import.yaml").path, atomically: true, encoding: .utf8)
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.customer", "batch.dlq"])
        // Comma-delimited although the job says ';': the header is one field.
        try "id,first_name,last_name,email,status\n1,A,B,a@example.com,A\n".write(
            to: drop.appendingPathComponent("customers-x.csv"), atomically: true, encoding: .utf8)
        let (environment, jobs) = try BatchTestSupport.environment(configuration: config)
        let report = try await BatchRunner(environment: environment).run(try #require(jobs.first))
        #expect(report.rowsProduced == 0)
        #expect(report.detail.contains("rejected"))
        let reportPath = drop.appendingPathComponent("rejected/customers-x.csv.report.json").path
        let json: String = try String(contentsOfFile: reportPath, encoding: .utf8)
        #expect(json.contains("wrong delimiter"))
        let produced: Int = try await KafkaTestClient.readAll(broker.bootstrap, topic: "crm.customer").count
        #expect(produced == 0)
    }
}
