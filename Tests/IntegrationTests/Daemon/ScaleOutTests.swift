import CRMKafka
import CRMMasterData
import CRMMasterDataPostgres
import CRMModel
import CRMTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Several `crmhub run` processes on one configuration: one broker, one PostgreSQL master data, a state folder and
/// ports of their own. They share the work through the consumer groups and keep delivering while one is killed with
/// SIGKILL and another joins.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ScaleOutTests {
    static let partitions = 6
    static let orderKeys = 60
    static let rounds = 40  // one order per key per round: 2400 orders
    static let people = 60  // three records each (crm, shop, cti): 180 customer messages
    static let routes = ["orders", "customers"]

    /// One `crmhub run` child with its own state folder, admin port and ingress port.
    struct Instance {
        let name: String
        let process: ChildProcess
        let adminPort: Int

        static func start(_ name: String, config: String, work: String) throws -> Instance {
            let adminPort = try freePort()
            let process = try ChildProcess.crmhub(
                [
                    "run", "--config", config, "--state-dir", "\(work)/state-\(name)", "--http-port", "\(adminPort)",
                    "--ingress-port", "\(try freePort())",
                ], errorPath: "\(work)/\(name).log")
            return Instance(name: name, process: process, adminPort: adminPort)
        }

        /// Partitions assigned per route, from `/readyz`; nil while the instance does not answer or is not ready.
        func assignedPartitions() async -> [String: Int]? {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(adminPort)/readyz")!)
            request.timeoutInterval = 2
            guard let (data, response) = try? await URLSession.shared.data(for: request),
                (response as? HTTPURLResponse)?.statusCode == 200,
                let body = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let routes = body["routes"] as? [[String: Any]]
            else { return nil }
            var assigned: [String: Int] = [:]
            for route in routes {
                if let name = route["name"] as? String { assigned[name] = route["assignedPartitions"] as? Int ?? 0 }
            }
            return assigned
        }
    }

    /// The ids of the messages the broker acknowledged (written from the producer's delivery callbacks).
    final class Acknowledgements: Sendable {
        let ids = Mutex<Set<String>>([])
    }

    /// Whether `instances` together own every partition of every route, each instance at least one per route.
    static func ownEveryPartition(_ instances: [Instance]) async -> Bool {
        var totals: [String: Int] = [:]
        for instance in instances {
            guard let assigned = await instance.assignedPartitions() else { return false }
            for route in routes {
                guard let count = assigned[route], count > 0 else { return false }
                totals[route, default: 0] += count
            }
        }
        return routes.allSatisfy { totals[$0] == partitions }
    }

    /// Per key, the sequence numbers as first seen must be 0, 1, 2, … in order; anything else must repeat an id seen
    /// before (an at-least-once re-delivery). Returns the violations, as text.
    static func orderViolations(_ deliveries: [(id: String, key: String, n: Int)]) -> [String] {
        var seen: Set<String> = []
        var next: [String: Int] = [:]
        var violations: [String] = []
        for delivery in deliveries where seen.insert(delivery.id).inserted {
            let expected = next[delivery.key, default: 0]
            if delivery.n != expected {
                violations.append("\(delivery.key): first saw \(delivery.n) when \(expected) was next")
            }
            next[delivery.key] = max(expected, delivery.n + 1)
        }
        return violations
    }

    @Test
    func threeInstancesLoseNothingKeepKeyOrderAndShareGoldenRecordsWhenOneIsKilledAndAnotherJoins() async throws {
        let started = ContinuousClock.now
        let broker = try await offPool { try TansuBroker() }
        let target = try await offPool { try RecordingHTTPServer() }
        let database = try await offPool { try PostgresServer.shared().createDatabase() }
        let work = try temporaryFolder([:], prefix: "crmhub-scaleout")
        try FileManager.default.createDirectory(atPath: "\(work)/connectors", withIntermediateDirectories: true)
        try """
        name: orders-http
        kind: http-sink
        topic: crm.orders
        url: \(target.url)/orders
        timeout_ms: 5000
        max_in_flight: 32
        retry:
          in_place_attempts: 3
          initial_backoff_ms: 50
          max_backoff_ms: 500
          topics: [2s]
        """.write(toFile: "\(work)/connectors/orders-http.yaml", atomically: true, encoding: .utf8)
        // One file for every instance: no state_dir and no ports here, each instance gets its own on the command line.
        let config = "\(work)/crmhub.yaml"
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          group_prefix: scaleout
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          statistics_interval_ms: 0
          connect_timeout_seconds: 10
          topic_partitions: \(Self.partitions)
        store:
          kind: postgres
          url: "\(database)"
        connectors: connectors
        log:
          level: info
        shutdown_timeout_seconds: 10
        routes:
          - name: orders
            from: raw.orders
            to: crm.orders
          - name: customers
            from: raw.customer
            to: crm.customer
            resolve: true
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try await KafkaTestClient.createTopics(
            broker.bootstrap,
            [
                "raw.orders", "crm.orders", "raw.customer", "crm.customer", "dlq.orders", "dlq.customers",
                "dlq.orders-http", "retry.orders-http.1", "crm.golden.customer",
            ], partitions: Int32(Self.partitions))

        var instances = try ["a", "b", "c"].map { try Instance.start($0, config: config, work: work) }
        defer { for instance in instances { instance.process.kill9() } }
        let shared = await eventually(timeout: .seconds(60), poll: .milliseconds(250)) {
            await Self.ownEveryPartition(instances)
        }
        try #require(shared, "three instances share every partition of both routes (logs in \(work))")

        // Keyed traffic: order n of key k in round n; the three records of a person in one round, keyed by system,
        // so they land on different partitions and usually on different instances at about the same time.
        let people = sharedPeople(Self.people)
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let acknowledged = Acknowledgements()
        var produced: Set<String> = []
        func produce(rounds: Range<Int>) async throws {
            for round in rounds {
                var messages: [ProducerMessage] = []
                for key in 0..<Self.orderKeys {
                    let id = "order-k\(key)-\(round)"
                    messages.append(
                        ProducerMessage(
                            topic: "raw.orders", key: Array("k\(key)".utf8),
                            value: Array(#"{"key":"k\#(key)","n":\#(round)}"#.utf8),
                            headers: [KafkaHeader(key: EnvelopeHeader.id, text: id)]))
                }
                for (index, variants) in people.enumerated() where index % Self.rounds == round {
                    for record in variants {
                        let id = "customer-\(record.system)-\(record.externalId)"
                        messages.append(
                            ProducerMessage(
                                topic: "raw.customer", key: Array("\(record.system)-\(record.externalId)".utf8),
                                value: Array(try JSONEncoder().encode(record)),
                                headers: [KafkaHeader(key: EnvelopeHeader.id, text: id)]))
                    }
                }
                for message in messages {
                    let id = message.headers.text(EnvelopeHeader.id) ?? ""
                    produced.insert(id)
                    try producer.enqueue(message) { result in
                        if case .success = result { acknowledged.ids.withLock { _ = $0.insert(id) } }
                    }
                }
                try await Task.sleep(for: .milliseconds(250))
            }
        }

        try await produce(rounds: 0..<12)
        // kill -9 mid-run: its uncommitted messages go to the survivors once the group notices (session timeout).
        instances[1].process.kill9()
        try await produce(rounds: 12..<24)
        let survivors = [instances[0], instances[2]]
        let takenOver = await eventually(timeout: .seconds(30), poll: .milliseconds(250)) {
            await Self.ownEveryPartition(survivors)
        }
        #expect(takenOver, "the two survivors took over the killed instance's partitions (logs in \(work))")

        let joined = try Instance.start("d", config: config, work: work)
        instances.append(joined)
        try await produce(rounds: 24..<Self.rounds)
        let rebalanced = await eventually(timeout: .seconds(30), poll: .milliseconds(250)) {
            await Self.ownEveryPartition(survivors + [joined])
        }
        #expect(rebalanced, "the new instance got partitions of both routes (logs in \(work))")
        #expect(await producer.flush(timeout: .seconds(30)))
        await producer.shutdown()
        let sent = acknowledged.ids.withLock { $0 }
        #expect(sent == produced, "the broker acknowledged every message the test produced")
        let orderIDs = sent.filter { $0.hasPrefix("order-") }
        let customerIDs = sent.filter { $0.hasPrefix("customer-") }
        #expect(orderIDs.count == Self.orderKeys * Self.rounds)
        #expect(customerIDs.count == Self.people * 3)

        // Nothing lost at the HTTP target, per-key order kept there (re-deliveries only of earlier messages).
        func deliveries() -> [(id: String, key: String, n: Int)] {
            target.records().compactMap { entry in
                guard let id = entry["idempotency_key"] as? String,
                    let body = (entry["body"] as? String).flatMap({
                        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                    }),
                    let key = body["key"] as? String, let n = body["n"] as? Int
                else { return nil }
                return (id, key, n)
            }
        }
        let allDelivered = await eventually(timeout: .seconds(60), poll: .milliseconds(500)) {
            orderIDs.isSubset(of: Set(deliveries().map(\.id)))
        }
        let atTarget = deliveries()
        #expect(allDelivered, "lost at the target: \(orderIDs.subtracting(atTarget.map(\.id)).sorted().prefix(10))")
        let targetViolations = Self.orderViolations(atTarget)
        #expect(targetViolations.isEmpty, "order at the target: \(targetViolations.prefix(10))")

        // The route's output: every order there, in order per key.
        let routed = try await KafkaTestClient.readAll(broker.bootstrap, topic: "crm.orders").compactMap {
            message -> (id: String, key: String, n: Int)? in
            guard let id = message.headers.text(EnvelopeHeader.id), let key = message.keyText,
                let n = Int(id.split(separator: "-").last ?? "")
            else { return nil }
            return (id, key, n)
        }
        #expect(Set(routed.map(\.id)) == orderIDs, "every order is on the route's output topic")
        let routeViolations = Self.orderViolations(routed)
        #expect(routeViolations.isEmpty, "order on crm.orders: \(routeViolations.prefix(10))")

        // Every customer resolved, and each person has exactly one golden record in PostgreSQL, the one every
        // instance stamped on that person's messages.
        var resolved: [(id: String, golden: String?)] = []
        let allResolved = await eventually(timeout: .seconds(60), poll: .seconds(1)) {
            resolved =
                (try? await KafkaTestClient.readAll(broker.bootstrap, topic: "crm.customer"))?.map {
                    ($0.headers.text(EnvelopeHeader.id) ?? "", $0.headers.text(EnvelopeHeader.goldenID))
                } ?? []
            return Set(resolved.map(\.id)) == customerIDs
        }
        #expect(allResolved, "every customer message is on crm.customer")
        let store = try await PostgresMasterDataStore(url: database)
        let snapshot = try await store.load()
        await store.close()
        #expect(snapshot.members.count == Self.people * 3)
        let goldenIDs = goldenIdsByPerson(snapshot, people: people)
        let split = goldenIDs.enumerated().filter { $0.element.count != 1 }.map(\.offset)
        #expect(split.isEmpty, "people with several golden records: \(split)")
        #expect(Set(goldenIDs.flatMap { $0 }).count == Self.people)
        #expect(snapshot.aliases.isEmpty, "no golden record was created twice and merged afterwards")
        var goldenByMessage: [String: String] = [:]
        for (index, variants) in people.enumerated() {
            for record in variants {
                goldenByMessage["customer-\(record.system)-\(record.externalId)"] = goldenIDs[index].first
            }
        }
        let stamped = resolved.filter { $0.golden == nil || $0.golden != goldenByMessage[$0.id] }
        #expect(stamped.isEmpty, "messages stamped with another golden id: \(stamped.prefix(5))")
        for topic in ["dlq.orders", "dlq.customers", "dlq.orders-http"] {
            #expect(try await KafkaTestClient.readAll(broker.bootstrap, topic: topic).isEmpty, "\(topic) is empty")
        }

        for instance in instances { instance.process.signal(SIGTERM) }
        for instance in instances where instance.name != "b" {
            #expect(await instance.process.waitForExit(timeout: .seconds(30)), "\(instance.name) stops on SIGTERM")
        }
        print(
            "scale-out: \(atTarget.count) deliveries of \(orderIDs.count) orders, \(resolved.count) resolutions of "
                + "\(customerIDs.count) customers, in \(ContinuousClock.now - started) (logs in \(work))")
    }

    /// Whether the instance's log says its sink consumer holds partitions of `topic`.
    static func sinkOwnsPartitions(of topic: String, log: String) -> Bool {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").contains {
            $0.contains(#""msg":"partitions assigned""#) && $0.contains("\(topic)[")
        }
    }

    /// A sink's parked keys live in Kafka (`parked.<sink>`). When a key's partition moves to another instance while
    /// the key waits in a retry topic, the new owner reads the parked keys before delivering and holds the key's
    /// later messages behind the parked one: no message overtakes it.
    @Test
    func aKeyParkedOnOneInstanceKeepsItsOrderWhenItsPartitionMovesToAnotherInstance() async throws {
        let broker = try await offPool { try TansuBroker() }
        let target = try await offPool { try RecordingHTTPServer() }
        let work = try temporaryFolder([:], prefix: "crmhub-scaleout-parked")
        try FileManager.default.createDirectory(atPath: "\(work)/connectors", withIntermediateDirectories: true)
        try """
        name: orders-http
        kind: http-sink
        topic: crm.orders
        url: \(target.url)/orders
        timeout_ms: 5000
        retry:
          in_place_attempts: 1
          topics: [30s]
        """.write(toFile: "\(work)/connectors/orders-http.yaml", atomically: true, encoding: .utf8)
        let config = "\(work)/crmhub.yaml"
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          group_prefix: parked
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          statistics_interval_ms: 0
          topic_partitions: \(Self.partitions)
        connectors: connectors
        log:
          level: info
        shutdown_timeout_seconds: 10
        routes: []
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try await KafkaTestClient.createTopics(
            broker.bootstrap, ["crm.orders", "dlq.orders-http", "retry.orders-http.1"],
            partitions: Int32(Self.partitions))
        var instances = try ["a", "b"].map { try Instance.start($0, config: config, work: work) }
        defer { for instance in instances { instance.process.kill9() } }
        let started = await eventually(timeout: .seconds(60), poll: .milliseconds(250)) {
            instances.allSatisfy { Self.sinkOwnsPartitions(of: "crm.orders", log: "\(work)/\($0.name).log") }
        }
        try #require(started, "both instances consume the sink's topic (logs in \(work))")

        let producer = try KafkaTestClient.producer(broker.bootstrap)
        func send(_ n: Int) async throws {
            for key in 0..<Self.orderKeys {
                _ = try await producer.send(
                    ProducerMessage(
                        topic: "crm.orders", key: Array("k\(key)".utf8),
                        value: Array(#"{"key":"k\#(key)","n":\#(n)}"#.utf8),
                        headers: [KafkaHeader(key: EnvelopeHeader.id, text: "order-k\(key)-\(n)")]))
            }
        }
        // Message 0 of every key fails and is parked in the retry topic for 30 s by the instance that owns its key.
        try target.setMode("503")
        try await send(0)
        let parked = await eventually(timeout: .seconds(30), poll: .milliseconds(500)) {
            (try? await KafkaTestClient.readAll(broker.bootstrap, topic: "retry.orders-http.1").count) == Self.orderKeys
        }
        try #require(parked, "every key's first message is parked (logs in \(work))")
        try target.setMode("ok")

        // A third instance takes some partitions over; then message 1 of every key.
        let joined = try Instance.start("c", config: config, work: work)
        instances.append(joined)
        let moved = await eventually(timeout: .seconds(20), poll: .milliseconds(250)) {
            Self.sinkOwnsPartitions(of: "crm.orders", log: "\(work)/c.log")
        }
        try #require(moved, "the new instance got partitions of the sink's topic (logs in \(work))")
        try await send(1)
        await producer.shutdown()

        func deliveries() -> [(id: String, key: String, n: Int)] {
            target.records().compactMap { entry in
                guard let id = entry["idempotency_key"] as? String, let n = Int(id.split(separator: "-").last ?? ""),
                    let key = id.split(separator: "-").dropFirst().first.map(String.init)
                else { return nil }
                return (id, key, n)
            }
        }
        let all = await eventually(timeout: .seconds(60), poll: .milliseconds(500)) {
            Set(deliveries().map(\.id)).count == 2 * Self.orderKeys
        }
        #expect(all, "every message reached the target (logs in \(work))")
        let violations = Self.orderViolations(deliveries())
        #expect(violations.isEmpty, "order at the target: \(violations.prefix(5))")
        for topic in ["dlq.orders-http"] {
            #expect(try await KafkaTestClient.readAll(broker.bootstrap, topic: topic).isEmpty, "\(topic) is empty")
        }
        for instance in instances { instance.process.stop(grace: 10) }
    }
}
