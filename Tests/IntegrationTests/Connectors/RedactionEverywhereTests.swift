import CRMDelivery
import CRMKafka
import CRMModel
import CRMRedaction
import CRMTestSupport
import CRMTransport
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

@testable import CRMHub
@testable import CRMTryton

/// Personal data pushed through every failure path reaches neither log format nor any dead-letter header.
@Suite(.timeLimit(.minutes(3)))
struct RedactionEverywhereTests {
    /// Distinctive personal data, and the fragments of it that must appear nowhere.
    static let name = "Zelda Quux"
    static let email = "zelda.quux@example-private.org"
    static let phone = "+44 7700 900461"
    static let forbidden = ["Zelda", "Quux", "zelda", "quux", "example-private", "7700 900461", "7700900461"]

    static var record: String {
        #"{"id": "c-1", "name": "\#(name)", "email": "\#(email)", "phone": "\#(phone)", "tier": "\#(name)"}"#
    }

    /// The formatted lines of both log formats, in memory.
    final class CapturedLogs: Sendable {
        let json = Mutex<[String]>([])
        let text = Mutex<[String]>([])

        func logger(redaction: RedactionPolicy) -> Logger {
            Logger(label: "crmhub") { label in
                MultiplexLogHandler([
                    JSONLogHandler(
                        label: label, level: .debug, redaction: redaction,
                        output: LogOutput { line in self.json.withLock { $0.append(line) } }),
                    TextLogHandler(
                        label: label, level: .debug, redaction: redaction,
                        output: LogOutput { line in self.text.withLock { $0.append(line) } }),
                ])
            }
        }
    }

    @Test func personalDataInAStrictMapMissAnHTTPEchoAndAProcessNackIsRedactedInLogsAndDeadLetters() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        let target = try RecordingHTTPServer()
        try target.setMode("422-echo")
        let directory = URL(fileURLWithPath: try temporaryFolder([:], prefix: "crmhub-redaction"))
        defer { try? FileManager.default.removeItem(at: directory) }
        for folder in ["connectors", "mappings"] {
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try """
        name: contact-tier
        description: A strict value map that the test's tier misses.
        input: test.contact
        outputs:
          - entity: Ticket
            key: {path: id, fn: [string]}
            fields:
              id: {path: id, fn: [string]}
              subject: {const: "tier change"}
              channel: {const: web}
              status: {const: open}
              severity: {path: tier, map: {gold: high, silver: normal}, strict: true}
        """.write(
            to: directory.appendingPathComponent("mappings/contact-tier.yaml"), atomically: true, encoding: .utf8)
        try """
        name: erp
        kind: http-sink
        topic: sink.erp
        url: \(target.url)/party
        retry:
          in_place_attempts: 1
        """.write(to: directory.appendingPathComponent("connectors/erp.yaml"), atomically: true, encoding: .utf8)
        // A child that refuses every message, quoting it in its nack, on stderr and in a log frame.
        let script = directory.appendingPathComponent("refuse.py")
        try #"""
        import json, sys
        sys.stdin.readline()
        print(json.dumps({"type": "hello", "protocol": 1}), flush=True)
        for line in sys.stdin:
            frame = json.loads(line)
            if frame.get("type") != "message":
                continue
            value = frame["value"]
            print("refusing %s (%s)" % (value["name"], value["email"]), file=sys.stderr, flush=True)
            print(json.dumps({"type": "log", "level": "warning", "message": "customer %s called" % value["name"]}))
            reason = "cannot archive %s <%s> tel %s" % (value["name"], value["email"], value["phone"])
            print(json.dumps({"type": "nack", "id": frame["id"], "reason": reason, "retry": False}), flush=True)
        """#.write(to: script, atomically: true, encoding: .utf8)
        try """
        name: archive
        kind: process
        role: sink
        command: [/usr/bin/env, python3, \(script.path)]
        topic: sink.archive
        retry:
          in_place_attempts: 1
        """.write(to: directory.appendingPathComponent("connectors/archive.yaml"), atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("hub.yaml").path
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          topic_partitions: 1
        store: {path: md.sqlite}
        state_dir: state
        mappings: mappings
        connectors: connectors
        http: {host: 127.0.0.1, port: \(try freePort())}
        routes:
          - {name: tiers, from: raw.contact, mapping: contact-tier, to: crm.contact}
        """.write(toFile: path, atomically: true, encoding: .utf8)

        let configuration = try HubConfiguration.load(path: path)
        let redaction = try configuration.redactionPolicy()
        let logs = CapturedLogs()
        let logger = logs.logger(redaction: redaction)
        let daemon = try await HubDaemon.make(
            configuration: configuration, metrics: PrometheusCollectorRegistry(), logger: logger)
        let group = ServiceGroup(services: daemon.services, logger: logger)
        let running = Task { try await group.run() }
        defer { running.cancel() }

        let input = try KafkaTestClient.producer(broker.bootstrap)
        for topic in ["raw.contact", "sink.erp", "sink.archive"] {
            try await input.send(
                ProducerMessage(topic: topic, key: Array("c-1".utf8), value: Array(Self.record.utf8)))
        }
        var deadLetters: [String: [ConsumerMessage]] = [:]
        for topic in ["dlq.tiers", "dlq.erp", "dlq.archive"] {
            deadLetters[topic] = try await KafkaTestClient.collect(
                broker.bootstrap, topic: topic, count: 1, timeout: .seconds(60))
            #expect(deadLetters[topic]?.count == 1, "\(topic) got the failed record")
        }
        // A Tryton refusal (no server needed: the error as the client builds it from a UserError reply).
        let refusal = TrytonError(
            .user(
                type: "UserError", message: "The e-mail \(Self.email) of party is not valid",
                detail: #""name": "Zelda Quux""#),
            method: "model.party.party.create", target: "http://127.0.0.1:8000/tryton")
        logger.error("Tryton refused a party", metadata: ["error": "\(refusal)", "name": "\(Self.name)"])
        try await Task.sleep(for: .milliseconds(500))
        await group.triggerGracefulShutdown()
        _ = try? await running.value

        let reasons = deadLetters.values.flatMap { $0 }.map { DeadLetter($0).reason }
        #expect(
            reasons.contains { $0.contains("value <text:") && $0.contains("is not in the value map") }, "\(reasons)")
        #expect(
            reasons.contains {
                $0.contains("HTTP 422") && $0.contains("<email:")
            }, "\(reasons)")
        #expect(reasons.contains { $0.contains("connector said: cannot archive") }, "\(reasons)")
        let headers = deadLetters.values.flatMap { $0 }.flatMap { message in
            message.headers.map { "\($0.key)=\($0.text ?? "")" }
        }
        let json = logs.json.withLock { $0 }
        let text = logs.text.withLock { $0 }
        #expect(
            json.contains { $0.contains("connector process stderr") } && text.contains { $0.contains("refusing <") })
        #expect(text.contains { $0.contains("Tryton refused a party") && $0.contains("<email:") })
        for (place, lines) in [("dead-letter headers", headers), ("JSON log", json), ("text log", text)] {
            for fragment in Self.forbidden {
                let leaks = lines.filter { $0.contains(fragment) }
                #expect(leaks.isEmpty, "\(fragment) in the \(place): \(leaks.prefix(3))")
            }
        }
    }

    @Test func aTrytonRefusalThatQuotesThePartyIsRedactedInItsReasonAndLogs() async throws {
        let server = try await TrytonServer.start()
        defer { server.stop() }
        let logs = CapturedLogs()
        let logger = logs.logger(redaction: .installed)
        let client = TrytonClient(
            endpoint: TrytonConnectorTests.endpoint(server), http: HTTPClient(concurrency: 2), logger: logger)
        let target = TrytonPartySinkTarget(client: client, logger: logger)
        // Tryton refuses a contact mechanism type it does not know, naming the record it refused.
        let party =
            #"{"code": "golden:0042", "name": "\#(Self.name)", "email_mechanisms": [{"type": "pigeon", "value": "\#(Self.email)"}], "phone_mechanisms": [{"type": "phone", "value": "\#(Self.phone)"}]}"#
        let outcome = await target.deliver(
            SinkMessage(id: "z-1", key: "golden:0042", value: Array(party.utf8), headers: [], previousAttempts: 0))
        guard case .permanent(let reason) = outcome else {
            Issue.record("expected a permanent outcome, got \(outcome)")
            return
        }
        logger.error("Tryton refused a party", metadata: ["error": "\(reason)"])
        // The error class and the refused option stay readable; the party's name and address it quotes do not.
        #expect(reason.contains("UserError") && reason.contains("pigeon"), "\(reason)")
        #expect(reason.contains("<email:") && reason.contains("<text:"), "\(reason)")
        let lines = [reason] + logs.json.withLock { $0 } + logs.text.withLock { $0 }
        for fragment in Self.forbidden {
            let leaks = lines.filter { $0.contains(fragment) }
            #expect(leaks.isEmpty, "\(fragment) in the Tryton reason or logs: \(leaks.prefix(3))")
        }
    }
}
