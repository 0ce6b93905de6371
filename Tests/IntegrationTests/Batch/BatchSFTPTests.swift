import CRMBatch
import CRMHub
import CRMTestSupport
import Foundation
import Testing

/// A batch job whose drop folder is on a real OpenSSH sshd (SFTP through libcurl, key auth, pinned host key).
@Suite(.timeLimit(.minutes(2)))
struct BatchSFTPTests {
    @Test func anOutboundJobPublishesItsFileToAnSFTPDropOnceEvenWhenRerun() async throws {
        let broker = try TansuBroker()
        let sshd = try await offPool { try SSHServer() }
        defer { sshd.stop() }
        let root = try BatchTestSupport.temporaryDirectory("batch-sftp")
        let config = try BatchTestSupport.writeHubConfiguration(in: root, broker: broker.bootstrap)
        let pin = sshd.hostKeySHA256.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? sshd.hostKeySHA256
        let drop =
            "sftp://\(sshd.user)@127.0.0.1:\(sshd.port)\(sshd.dropDirectory.path)?private_key=\(sshd.clientKey)&host_key_sha256=\(pin)"
        try """
        name: customers-sftp
        direction: outbound
        topics: [crm.customer]
        format:
          type: csv
          columns: [id, {name: name, path: displayName}]
        drop: "\(drop)"
        file_name: "customers-{window}.csv"
        empty: header-only
        """.write(toFile: root.appendingPathComponent("Batch/sftp.yaml").path, atomically: true, encoding: .utf8)
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.customer"])
        try await KafkaTestClient.produce(
            broker.bootstrap, topic: "crm.customer", values: (1...12).map(BatchRunTests.customer))

        let (environment, jobs) = try BatchTestSupport.environment(configuration: config)
        let runner = BatchRunner(environment: environment)
        let window = try Date("2026-11-25T02:00:00Z", strategy: .iso8601)
        let report = try await runner.run(try #require(jobs.first), window: window)
        #expect(report.status == .succeeded, Comment(rawValue: report.detail))
        #expect(report.rowsProduced == 12)
        let files = try FileManager.default.contentsOfDirectory(atPath: sshd.dropDirectory.path).sorted()
        #expect(files == ["customers-20261125T0200Z.csv"], "one file, no .part left")
        let text = try String(
            contentsOf: sshd.dropDirectory.appendingPathComponent("customers-20261125T0200Z.csv"), encoding: .utf8)
        #expect(text.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 13)

        // The same window again (a re-run after a crash) replaces the file; it never adds a second one.
        _ = try await runner.run(try #require(jobs.first), window: window)
        #expect(try FileManager.default.contentsOfDirectory(atPath: sshd.dropDirectory.path).sorted() == files)
    }

    @Test func aWrongHostKeyPinFailsTheRunWithAClearReasonAndWritesNothing() async throws {
        let broker = try TansuBroker()
        let sshd = try await offPool { try SSHServer() }
        defer { sshd.stop() }
        let root = try BatchTestSupport.temporaryDirectory("batch-sftp-pin")
        let config = try BatchTestSupport.writeHubConfiguration(in: root, broker: broker.bootstrap)
        let wrong = "SHA256%3A" + String(repeating: "A", count: 43)
        try """
        name: customers-sftp
        direction: outbound
        topics: [crm.customer]
        format: {type: jsonl}
        drop: "sftp://\(sshd.user)@127.0.0.1:\(sshd.port)\(sshd.dropDirectory.path)?private_key=\(sshd.clientKey)&host_key_sha256=\(wrong)"
        file_name: "customers-{window}.jsonl"
        empty: header-only
        notify_topic: batch.failures
        """.write(toFile: root.appendingPathComponent("Batch/sftp.yaml").path, atomically: true, encoding: .utf8)
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.customer", "batch.failures"])
        try await KafkaTestClient.produce(broker.bootstrap, topic: "crm.customer", values: [BatchRunTests.customer(1)])
        let (environment, jobs) = try BatchTestSupport.environment(configuration: config)
        let report = try await BatchRunner(environment: environment).run(try #require(jobs.first), window: Date())
        #expect(report.status == .failed)
        #expect(report.detail.lowercased().contains("host key"), Comment(rawValue: report.detail))
        #expect(try FileManager.default.contentsOfDirectory(atPath: sshd.dropDirectory.path).isEmpty)
        // The failure is announced on the job's notify topic.
        let notices = try await KafkaTestClient.readAll(broker.bootstrap, topic: "batch.failures")
        #expect(notices.count == 1)
        #expect(notices.first.map { String(decoding: $0.value, as: UTF8.self) }?.contains("customers-sftp") == true)
    }
}
