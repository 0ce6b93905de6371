import CRMDelivery
import CRMKafka
import CRMTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The `crmhub` executable as an operator runs it: start, readiness, SIGTERM, exit codes for bad set-ups.
@Suite(.timeLimit(.minutes(3)))
struct DaemonProcessTests {
    func writeConfig(broker: String, httpPort: Int, extra: String = "") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-daemon-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("crmhub.yaml").path
        try """
        kafka:
          brokers: ["\(broker)"]
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          connect_timeout_seconds: 3
          topic_partitions: 2
        \(extra)
        http:
          port: \(httpPort)
        log:
          format: json
        routes:
          - name: forms
            from: raw.forms
            to: crm.forms
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func status(_ url: String) async -> Int? {
        guard let (_, response) = try? await URLSession.shared.data(from: URL(string: url)!) else { return nil }
        return (response as? HTTPURLResponse)?.statusCode
    }

    @Test func runsRoutesAndStopsCleanlyOnSIGTERM() async throws {
        let broker = try TansuBroker()
        let httpPort = try freePort()
        let config = try writeConfig(broker: broker.bootstrap, httpPort: httpPort)
        let process = try ChildProcess.crmhub(["run", "--config", config])
        defer { process.kill9() }

        let ready = await eventually(timeout: .seconds(20), poll: .milliseconds(100)) {
            await status("http://127.0.0.1:\(httpPort)/readyz") == 200
        }
        #expect(ready, "/readyz turned 200")
        #expect(await status("http://127.0.0.1:\(httpPort)/healthz") == 200)

        let producer = try KafkaTestClient.producer(broker.bootstrap)
        for index in 0..<50 {
            try await producer.send(ProducerMessage(topic: "raw.forms", value: Array("\(index)".utf8)))
        }
        let routed = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "crm.forms", count: 50, timeout: .seconds(60))
        #expect(routed.count == 50)
        let (metrics, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(httpPort)/metrics")!)
        let text = String(decoding: metrics, as: UTF8.self)
        #expect(text.contains("crmhub_route_messages_out_total{route=\"forms\"} 50"))
        // The route's 50 acknowledgements, in the hub producer's histogram with millisecond buckets.
        #expect(
            text.contains("crmhub_kafka_produce_latency_seconds_count{producer=\"hub\"} 50"), "\(text.prefix(3_000))")
        #expect(text.contains("crmhub_kafka_produce_latency_seconds_bucket{producer=\"hub\",le=\"0.002\"}"))

        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)), "exits within the shutdown bound")
        #expect(process.terminationStatus == 0)
        await producer.shutdown()
    }

    @Test func anUnreachableBrokerFailsFastNamingTheBroker() async throws {
        let deadPort = try freePort()
        let config = try writeConfig(broker: "127.0.0.1:\(deadPort)", httpPort: try freePort())
        let process = try ChildProcess.crmhub(["run", "--config", config])
        defer { process.kill9() }
        #expect(await process.waitForExit(timeout: .seconds(20)))
        #expect(process.terminationStatus == 1)
        let text = process.errorOutput
        #expect(text.contains("cannot reach Kafka at 127.0.0.1:\(deadPort)"))
    }

    @Test func aBadConfigurationExitsWithCode2AndTheLine() async throws {
        let config = try writeConfig(broker: "127.0.0.1:1", httpPort: 8080, extra: "bogus: 1")
        let process = try ChildProcess.crmhub(["validate", "--config", config])
        defer { process.kill9() }
        #expect(await process.waitForExit(timeout: .seconds(10)))
        #expect(process.terminationStatus == 2)
        let text = process.errorOutput
        #expect(text.contains("\(config):7:1: unknown key 'bogus'"))
    }

    @Test func aPortOverrideOutsideTheRangeIsRefusedAsAUsageError() async throws {
        let config = try writeConfig(broker: "127.0.0.1:1", httpPort: 8080)
        let process = try ChildProcess.crmhub(["run", "--config", config, "--http-port", "70000"])
        defer { process.kill9() }
        #expect(await process.waitForExit(timeout: .seconds(10)))
        #expect(process.terminationStatus == 64)
        #expect(process.errorOutput.contains("--http-port must be in 1...65535"))
    }

    /// Runs the CLI to completion; returns its exit status and standard output.
    func runCLI(_ arguments: [String]) throws -> (Int32, String) {
        try ChildProcess.run(try crmhubBinary(), arguments, errorPath: "/dev/null", timeout: 120)
    }

    @Test func aSinkRejectionIsListedAndReplayedWithTheDLQCommand() async throws {
        let broker = try TansuBroker()
        let target = try RecordingHTTPServer()
        try target.setMode("422-if:poison")
        let httpPort = try freePort()
        let config = try writeConfig(
            broker: broker.bootstrap, httpPort: httpPort, extra: "connectors: connectors\nstate_dir: state")
        let directory = URL(fileURLWithPath: config).deletingLastPathComponent()
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("connectors"), withIntermediateDirectories: true)
        try """
        name: erp
        kind: http-sink
        topic: crm.forms
        url: \(target.url)/party
        retry:
          in_place_attempts: 1
          topics: [1s]
        """.write(
            toFile: directory.appendingPathComponent("connectors/erp.yaml").path, atomically: true, encoding: .utf8)
        let process = try ChildProcess.crmhub(["run", "--config", config])
        defer { process.kill9() }

        let producer = try KafkaTestClient.producer(broker.bootstrap)
        await eventually(timeout: .seconds(20), poll: .milliseconds(100)) {
            await status("http://127.0.0.1:\(httpPort)/readyz") == 200
        }
        for value in ["{\"n\":1}", "{\"poison\":true}", "{\"n\":2}"] {
            try await producer.send(ProducerMessage(topic: "raw.forms", key: Array("k".utf8), value: Array(value.utf8)))
        }
        let parked = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "dlq.erp", count: 1, timeout: .seconds(60))
        #expect(parked.count == 1)
        #expect(target.records().count == 2, "the good messages were delivered")

        let (listStatus, listing) = try runCLI([
            "dlq", "list", "--config", config, "--route", "erp", "--idle-ms", "1500",
        ])
        #expect(listStatus == 0)
        #expect(listing.contains("1 dead letter(s) in dlq.erp"))
        #expect(listing.contains("target-permanent"))
        #expect(listing.contains("HTTP 422"))

        try target.setMode("ok")
        let (replayStatus, replayed) = try runCLI([
            "dlq", "replay", "--config", config, "--route", "erp", "--all", "--purge", "--idle-ms", "1500",
        ])
        #expect(replayStatus == 0)
        #expect(replayed.contains("replayed 1 message(s) into crm.forms"))
        await eventually(timeout: .seconds(20), poll: .milliseconds(100)) { target.records().count >= 3 }
        let bodies = target.records().compactMap { $0["body"] as? String }
        #expect(bodies.last == "{\"poison\":true}", "delivered after the replay")
        let (_, afterPurge) = try runCLI(["dlq", "list", "--config", config, "--route", "erp", "--idle-ms", "1500"])
        #expect(afterPurge.contains("0 dead letter(s)"))

        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)))
        await producer.shutdown()
    }

    @Test func aTargetThatHangsAndThenStaysDownPastTheLastRetryTierIsReplayedFromDeadLettersAndDeliversEachOnce()
        async throws
    {
        let broker = try TansuBroker()
        let target = try RecordingHTTPServer()
        // Hangs past the sink's request timeout first, then is down (503) for longer than the last retry tier.
        try target.setMode("slow:4000")
        let httpPort = try freePort()
        let config = try writeConfig(
            broker: broker.bootstrap, httpPort: httpPort, extra: "connectors: connectors\nstate_dir: state")
        let directory = URL(fileURLWithPath: config).deletingLastPathComponent()
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("connectors"), withIntermediateDirectories: true)
        try """
        name: erp
        kind: http-sink
        topic: crm.forms
        url: \(target.url)/party
        timeout_ms: 1000
        retry:
          in_place_attempts: 1
          topics: [1s, 1s]
        """.write(
            toFile: directory.appendingPathComponent("connectors/erp.yaml").path, atomically: true, encoding: .utf8)
        let process = try ChildProcess.crmhub(["run", "--config", config])
        defer { process.kill9() }
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        await eventually(timeout: .seconds(20), poll: .milliseconds(100)) {
            await status("http://127.0.0.1:\(httpPort)/readyz") == 200
        }
        let count = 6
        for n in 0..<count {
            try await producer.send(
                ProducerMessage(
                    topic: "raw.forms", key: Array("k\(n)".utf8), value: Array("{\"n\":\(n)}".utf8),
                    headers: [KafkaHeader(key: "crm-id", text: "order-\(n)")]))
        }
        try await Task.sleep(for: .seconds(3))
        try target.setMode("503")
        let letters = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "dlq.erp", count: count, timeout: .seconds(90))
        #expect(letters.count == count, "every message exhausted the retry tiers")
        let more = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "dlq.erp", count: count + 1, timeout: .seconds(3))
        #expect(more.count == count, "each message dead-lettered once")
        #expect(letters.allSatisfy { DeadLetter($0).reason.contains("503") || DeadLetter($0).reason.contains("time") })

        try target.setMode("ok")
        let before = target.records().count
        let (replayStatus, replayed) = try runCLI([
            "dlq", "replay", "--config", config, "--route", "erp", "--all", "--purge", "--idle-ms", "1500",
        ])
        #expect(replayStatus == 0)
        #expect(replayed.contains("replayed \(count) message(s) into crm.forms"))
        let arrived = await eventually(timeout: .seconds(30), poll: .milliseconds(100)) {
            target.records().count - before >= count
        }
        #expect(arrived)
        try await Task.sleep(for: .seconds(3))
        let afterReplay = target.records().dropFirst(before).compactMap { $0["idempotency_key"] as? String }
        // Delivered once: every message arrives, and a second request (the sink's request timed out under load)
        // carries the same Idempotency-Key, which the target deduplicates on.
        #expect(Set(afterReplay) == Set((0..<count).map { "order-\($0)" }), "every message delivered after the replay")
        let (_, afterPurge) = try runCLI(["dlq", "list", "--config", config, "--route", "erp", "--idle-ms", "1500"])
        #expect(afterPurge.contains("0 dead letter(s)"))

        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)))
        await producer.shutdown()
    }
}
