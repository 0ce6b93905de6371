import CRMKafka
import CRMModel
import CRMTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A `crmhub run` whose `state_dir` is a small tmpfs that fills up while an HTTP sink delivers (each delivery writes
/// the dedup window): the hub stops taking work with an error naming the file and ENOSPC, `/readyz` says not ready,
/// and once space returns it resumes on its own, with nothing lost and each key's order kept.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct FullStateDiskTests {
    static let keys = 10
    static let perKey = 20

    /// Mounts a 2 MiB tmpfs on `directory` (needs root), with mount(8).
    static func mountSmallTmpfs(_ directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            _ = try runCapturingOutput("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", directory], timeout: 30)
        } catch {
            throw TestSetupError("cannot mount a tmpfs on \(directory) (root needed): \(error)")
        }
    }

    /// Writes `path` until the filesystem is full (at most 8 MiB, more than the tmpfs holds).
    static func fill(_ path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw TestSetupError("cannot create \(path)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let chunk = Data(count: 64 * 1_024)
        for _ in 0..<128 {
            do { try handle.write(contentsOf: chunk) } catch { return }
        }
        throw TestSetupError("\(path) did not fill its filesystem")
    }

    @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
    func aFullStateDiskStopsTheSinkWithAClearErrorAndItResumesLosingNothingWhenSpaceReturns() async throws {
        let broker = try await offPool { try TansuBroker() }
        let target = try await offPool { try RecordingHTTPServer() }
        let work = try temporaryFolder([:], prefix: "crmhub-full-state")
        let state = "\(work)/state"
        try Self.mountSmallTmpfs(state)
        defer { _ = try? runCapturingOutput("/bin/umount", ["-l", state], timeout: 30) }
        try FileManager.default.createDirectory(atPath: "\(work)/connectors", withIntermediateDirectories: true)
        try """
        name: orders-http
        kind: http-sink
        topic: crm.orders
        url: \(target.url)/orders
        timeout_ms: 5000
        max_in_flight: 8
        retry:
          in_place_attempts: 3
          initial_backoff_ms: 50
          max_backoff_ms: 500
          topics: [2s]
        """.write(toFile: "\(work)/connectors/orders-http.yaml", atomically: true, encoding: .utf8)
        let adminPort = try freePort()
        let config = "\(work)/crmhub.yaml"
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          group_prefix: full
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          statistics_interval_ms: 0
          topic_partitions: 2
        state_dir: \(state)
        connectors: connectors
        http:
          port: \(adminPort)
        log:
          level: info
          format: json
        shutdown_timeout_seconds: 10
        routes: []
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try await KafkaTestClient.createTopics(
            broker.bootstrap, ["crm.orders", "dlq.orders-http", "retry.orders-http.1"], partitions: 2)
        let log = "\(work)/crmhub.log"
        let hub = try ChildProcess.crmhub(
            ["run", "--config", config, "--ingress-port", "\(try freePort())"], errorPath: log)
        defer { hub.kill9() }
        let readyz = "http://127.0.0.1:\(adminPort)/readyz"
        try #require(
            await eventually(timeout: .seconds(60), poll: .milliseconds(250)) { await httpStatus(readyz) == 200 },
            "crmhub is ready (log in \(log))")

        let producer = try KafkaTestClient.producer(broker.bootstrap)
        var produced: Set<String> = []
        func send(_ rounds: Range<Int>) async throws {
            for n in rounds {
                for key in 0..<Self.keys {
                    let id = "order-k\(key)-\(n)"
                    produced.insert(id)
                    _ = try await producer.send(
                        ProducerMessage(
                            topic: "crm.orders", key: Array("k\(key)".utf8),
                            value: Array(#"{"key":"k\#(key)","n":\#(n)}"#.utf8),
                            headers: [KafkaHeader(key: EnvelopeHeader.id, text: id)]))
                }
            }
        }
        func deliveries() -> [(id: String, key: String, n: Int)] {
            target.records().compactMap { entry in
                guard let id = entry["idempotency_key"] as? String,
                    let n = Int(id.split(separator: "-").last ?? ""),
                    let key = id.split(separator: "-").dropFirst().first.map(String.init)
                else { return nil }
                return (id, key, n)
            }
        }
        let half = Self.perKey / 2
        try await send(0..<half)
        try #require(
            await eventually(timeout: .seconds(60), poll: .milliseconds(250)) {
                Set(deliveries().map(\.id)) == produced
            }, "the first half is delivered before the disk fills (log in \(log))")

        // The disk fills; the second half arrives.
        try Self.fill("\(state)/filler")
        try await send(half..<Self.perKey)
        let stalled = await eventually(timeout: .seconds(30), poll: .milliseconds(250)) {
            await httpStatus(readyz) == 503
        }
        #expect(stalled, "/readyz says not ready while the state file cannot be written")
        let errorLine = hub.errorOutput.split(separator: "\n").first {
            $0.contains("cannot write the sink's state file") && $0.contains("\(state)/delivery.sqlite")
                && $0.contains("ENOSPC")
        }
        #expect(errorLine != nil, "an error line names the state file and ENOSPC (log in \(log))")
        let heldBack = Set(deliveries().map(\.id))
        #expect(heldBack != produced, "the sink stopped taking work while the disk was full")

        // Space returns: the sink resumes on its own.
        try FileManager.default.removeItem(atPath: "\(state)/filler")
        let allDelivered = await eventually(timeout: .seconds(60), poll: .milliseconds(250)) {
            produced.isSubset(of: Set(deliveries().map(\.id)))
        }
        let lost = produced.subtracting(deliveries().map(\.id))
        #expect(allDelivered && lost.isEmpty, "lost: \(lost.count), e.g. \(lost.sorted().prefix(10))")
        #expect(
            await eventually(timeout: .seconds(30), poll: .milliseconds(250)) { await httpStatus(readyz) == 200 },
            "/readyz is ready again")
        let violations = BrokerRestartTests.orderViolations(deliveries())
        #expect(violations.isEmpty, "order at the target: \(violations.prefix(10))")
        await producer.shutdown()
        hub.stop(grace: 15)
    }
}
