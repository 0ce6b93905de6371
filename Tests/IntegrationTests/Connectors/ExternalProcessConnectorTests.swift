import CRMDelivery
import CRMKafka
import CRMTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CRMHub
@testable import CRMProcessConnector

@Suite struct ConnectorProtocolTests {
    @Test func framesFromTheChildAreParsedAndBrokenOnesAreProtocolErrors() throws {
        func parse(_ text: String) throws -> ConnectorProcess.Frame { try ConnectorProcess.parse(Array(text.utf8)) }
        guard case .hello = try parse(#"{"type":"hello","protocol":1}"#) else {
            Issue.record("hello")
            return
        }
        guard
            case .nack(let id, let reason, let retry) = try parse(
                #"{"type":"nack","id":"m1","reason":"bad vat","retry":false}"#)
        else {
            Issue.record("nack")
            return
        }
        #expect(id == "m1" && reason == "bad vat" && !retry)
        guard
            case .message(_, let key, let value) = try parse(#"{"type":"message","id":"f1","key":"k","value":{"a":1}}"#)
        else {
            Issue.record("message")
            return
        }
        #expect(key == "k" && String(decoding: value, as: UTF8.self) == #"{"a":1}"#)
        guard case .message(_, _, let binary) = try parse(#"{"type":"message","id":"f2","value_base64":"AAEC"}"#) else {
            Issue.record("b64")
            return
        }
        #expect(binary == [0, 1, 2])
        for broken in [
            "not json", #"{"type":"hello","protocol":2}"#, #"{"type":"ack"}"#, #"{"type":"message","id":"x"}"#,
            #"{"type":"teleport"}"#, "[1]",
        ] {
            #expect(throws: ConnectorProcess.ProtocolError.self, "\(broken)") { try parse(broken) }
        }
    }

    @Test func aNonJSONValueTravelsAsBase64() {
        let frame = ConnectorProcess.messageFrame(id: "m", key: nil, headers: [:], value: [0xff, 0x00])
        #expect(frame["value_base64"] as? String == "/wA=")
        #expect(frame["value"] == nil)
    }
}

/// External-process connectors with real child programs (the example scripts in Connectors/examples/process).
@Suite(.timeLimit(.minutes(3)))
struct ExternalProcessConnectorTests {
    let logger = Logger(label: "test")
    let examples = repositoryRoot.appendingPathComponent("Connectors/examples/process")

    func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-process-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func aSinkChildKilledMidStreamIsRestartedAndEveryMessageIsDeliveredOnRetry() async throws {
        let directory = try scratch()
        let archive = directory.appendingPathComponent("archive.jsonl")
        var settings = ConnectorProcess.Settings(
            name: "archive",
            command: ["/usr/bin/env", "python3", examples.appendingPathComponent("jsonl_archive_sink.py").path],
            role: .sink)
        settings.settings = ["path": archive.path]
        settings.restartBackoff.initial = .milliseconds(100)
        let target = await ProcessSinkTarget(settings: settings, timeout: .seconds(10), logger: logger)
        let firstChild = try await waitForChild(target)

        var undelivered = Set(0..<40)
        var killed = false
        var transient = 0
        for _ in 0..<6 where !undelivered.isEmpty {  // bounded retry rounds
            let batch = undelivered.sorted()
            let outcomes = await withTaskGroup(of: (Int, SinkOutcome).self) { group in
                for number in batch {
                    group.addTask {
                        let value = Array(#"{"n":\#(number),"name":"Zoë"}"#.utf8)
                        return (
                            number,
                            await target.deliver(
                                SinkMessage(
                                    id: "m-\(number)", key: "k\(number % 4)", value: value, headers: [],
                                    previousAttempts: 0))
                        )
                    }
                }
                var results: [(Int, SinkOutcome)] = []
                for await result in group {
                    results.append(result)
                    if !killed && results.count == 10 {
                        kill(firstChild, SIGKILL)  // a real crash with messages in flight
                        killed = true
                    }
                }
                return results
            }
            for (number, outcome) in outcomes {
                switch outcome {
                case .delivered: undelivered.remove(number)
                case .transient: transient += 1
                case .permanent(let reason): Issue.record("message \(number) failed for good: \(reason)")
                }
            }
        }
        #expect(undelivered.isEmpty, "never delivered: \(undelivered.sorted())")
        let secondChild = try await waitForChild(target, other: firstChild)
        #expect(secondChild != firstChild, "the child was restarted")
        let lines = try String(contentsOf: archive, encoding: .utf8).split(separator: "\n")
        let ids = Set(
            lines.compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? String
            })
        #expect(ids == Set((0..<40).map { "m-\($0)" }), "every message is in the archive")
        print(
            "process sink: \(transient) transient outcomes after the kill, \(lines.count - ids.count) duplicates in the archive"
        )
        await target.shutdown()
    }

    @Test func aSourceChildsMessagesReachKafkaAndAreAcknowledgedOnlyAfterTheBrokerHasThem() async throws {
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(broker.bootstrap, ["raw.drop"], partitions: 1)
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let folder = try scratch()
        for number in 0..<25 {
            try Data(#"{"email":"p\#(number)@example.com","n":\#(number)}"#.utf8).write(
                to: folder.appendingPathComponent(String(format: "form-%03d.json", number)))
        }
        var settings = ConnectorProcess.Settings(
            name: "drop",
            command: ["/usr/bin/env", "python3", examples.appendingPathComponent("drop_folder_source.py").path],
            role: .source)
        settings.settings = ["folder": folder.path, "key_field": "email", "poll_seconds": "0.2"]
        settings.restartBackoff.initial = .milliseconds(100)
        let source = ProcessSourceService(settings: settings, topic: "raw.drop", producer: producer, logger: logger)
        let group = ServiceGroup(services: [source], logger: logger)
        let running = Task { try await group.run() }

        // Kill the child once while files are being offered; the restarted child offers the rest again.
        let first = try await waitForSourceChild(source)
        try await Task.sleep(for: .milliseconds(300))
        kill(first, SIGKILL)

        try await eventually(timeout: .seconds(40), poll: .milliseconds(200)) {
            try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.isEmpty
        }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.isEmpty,
            "every file acknowledged")

        let messages = try await KafkaTestClient.collect(broker.bootstrap, topic: "raw.drop", timeout: .seconds(20)) {
            messages in
            Set(messages.compactMap { $0.headers.text("crm-id") }).count == 25
        }
        var ids = Set<String>()
        var total = 0
        for message in messages {
            total += 1
            if let id = message.headers.text("crm-id") { ids.insert(id) }
            #expect(message.keyText?.hasPrefix("p") == true)
        }
        #expect(
            ids == Set((0..<25).map { String(format: "form-%03d", $0) }),
            "every file is on the topic, with its name as the id")
        print(
            "process source: \(total) records for 25 files (repeats are offers that were produced but not yet acknowledged at the kill)"
        )
        await group.triggerGracefulShutdown()
        try await running.value
        await producer.shutdown()
    }

    /// The sink's running child, once there is one other than `previous` (a killed child is replaced after the
    /// target notices its exit, which may be after the messages in flight were answered).
    func waitForChild(_ target: ProcessSinkTarget, other previous: Int32? = nil) async throws -> Int32 {
        var pid: Int32?
        await eventually(timeout: .seconds(10)) {
            pid = await target.childProcessIdentifier
            return pid != nil && pid != previous
        }
        guard let pid else { throw TestSetupError("the connector process did not start") }
        return pid
    }

    func waitForSourceChild(_ source: ProcessSourceService) async throws -> Int32 {
        var pid: Int32?
        await eventually(timeout: .seconds(10)) {
            pid = await source.childProcessIdentifier
            return pid != nil
        }
        guard let pid else { throw TestSetupError("the connector process did not start") }
        return pid
    }
}
