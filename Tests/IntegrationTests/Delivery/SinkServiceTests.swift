import CRMDelivery
import CRMKafka
import CRMTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import CRMHub

/// The sink delivery engine against a real broker (Tansu). The target is an in-process recorder standing in for
/// the external system, so the delivery rules can be checked exactly; real HTTP/SMTP targets have their own tests.
@Suite(.timeLimit(.minutes(3)))
struct SinkServiceTests {
    let logger = Logger(label: "test")

    /// Records what it accepted, in order; fails as scripted.
    final class RecordingTarget: SinkTarget {
        enum Script: Sendable { case ok, transient, permanent }
        private let state = Mutex<(accepted: [SinkMessage], calls: Int)>(([], 0))
        let script: @Sendable (SinkMessage) -> Script

        init(script: @escaping @Sendable (SinkMessage) -> Script) { self.script = script }

        var description: String { "recording" }
        var accepted: [SinkMessage] { state.withLock { $0.accepted } }
        var calls: Int { state.withLock { $0.calls } }

        func deliver(_ message: SinkMessage) async -> SinkOutcome {
            let outcome = script(message)
            state.withLock {
                $0.calls += 1
                if outcome == .ok { $0.accepted.append(message) }
            }
            switch outcome {
            case .ok: return .delivered
            case .transient: return .transient(reason: "HTTP 503 from target")
            case .permanent: return .permanent(reason: "HTTP 422: email is invalid")
            }
        }
    }

    final class Switch: Sendable {
        private let on = Atomic<Bool>(true)
        var isOn: Bool { on.load(ordering: .relaxed) }
        func turnOff() { on.store(false, ordering: .relaxed) }
    }

    /// Retry tiers of 0.5 s, 1 s and 20 s: the last one outlasts any outage a test makes, even on a busy machine.
    func makeSink(
        _ broker: TansuBroker, name: String, target: RecordingTarget, producer: KafkaProducer, store: DeliveryStateStore
    ) async throws -> SinkService {
        var policy = RetryPolicy(
            inPlaceAttempts: 2, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50),
            retryTopicDelays: [.milliseconds(500), .seconds(1), .seconds(20)])
        policy.jitter = 0.1
        let configuration = SinkService.Configuration(name: name, topic: "in.\(name)", retry: policy)
        try await KafkaTestClient.createTopics(broker.bootstrap, configuration.topics, partitions: 2)
        return SinkService(
            configuration: configuration,
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.sink.\(name)", topics: []),
            producer: producer, target: target, store: store, state: HubState(), logger: logger)
    }

    @Test func anOutageOfOneKeyParksItsMessagesInOrderWhileOtherKeysFlowAndAllArrive() async throws {
        let broker = try TansuBroker()
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let outage = Switch()
        let target = RecordingTarget { message in message.key == "customer-A" && outage.isOn ? .transient : .ok }
        let sink = try await makeSink(
            broker, name: "outage", target: target, producer: producer, store: try DeliveryStateStore(path: nil))
        let group = ServiceGroup(services: [sink], logger: logger)
        let running = Task { try await group.run() }

        let keys = ["customer-A", "customer-B", "customer-C"]
        for index in 0..<30 {
            let key = keys[index % 3]
            try await producer.send(
                ProducerMessage(topic: "in.outage", key: Array(key.utf8), value: Array("\(key)#\(index)".utf8)))
        }
        // B and C flow while A is down; A's messages are parked, not delivered out of order.
        await eventually(timeout: .seconds(60)) {
            target.accepted.count >= 20 && target.calls - target.accepted.count >= 2
        }
        #expect(target.accepted.allSatisfy { $0.key != "customer-A" })
        try await Task.sleep(for: .milliseconds(500))
        outage.turnOff()
        await eventually(timeout: .seconds(60)) { target.accepted.count >= 30 }
        try await Task.sleep(for: .seconds(1))  // nothing more may arrive

        let accepted = target.accepted
        #expect(accepted.count == 30, "every message delivered once")
        for key in keys {
            let values = accepted.filter { $0.key == key }.map { String(decoding: $0.value, as: UTF8.self) }
            let order = values.map { Int($0.split(separator: "#")[1])! }
            #expect(order == order.sorted(), "per-key order holds for \(key): \(order)")
            #expect(values.count == 10)
        }
        let firstA = try #require(accepted.first { $0.key == "customer-A" })
        #expect(firstA.previousAttempts >= 2, "the head of A was retried in place, then from a retry topic")
        await group.triggerGracefulShutdown()
        try await running.value
        await producer.shutdown()
    }

    /// The parked keys are in Kafka (`parked.<sink>`), not in the instance's state: a sink that starts with an empty
    /// state file (another instance taking the partition over, or this one after losing its file) still holds a
    /// parked key's later messages behind the parked one.
    @Test func aKeyParkedBeforeAnotherInstanceTakesOverKeepsItsLaterMessagesBehindIt() async throws {
        let broker = try TansuBroker()
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let outage = Switch()
        // Only the head fails, so a follower that is not held back would be delivered at once.
        let target = RecordingTarget { message in
            String(decoding: message.value, as: UTF8.self) == "k#0" && outage.isOn ? .transient : .ok
        }
        let first = try await makeSink(
            broker, name: "takeover", target: target, producer: producer, store: try DeliveryStateStore(path: nil))
        let firstGroup = ServiceGroup(services: [first], logger: logger)
        let firstRunning = Task { try await firstGroup.run() }
        try await producer.send(ProducerMessage(topic: "in.takeover", key: Array("k".utf8), value: Array("k#0".utf8)))
        let retried = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "retry.takeover.1", count: 1, timeout: .seconds(60))
        try #require(retried.count == 1, "the head is parked in the first retry topic")
        await firstGroup.triggerGracefulShutdown()
        try await firstRunning.value

        let second = try await makeSink(
            broker, name: "takeover", target: target, producer: producer, store: try DeliveryStateStore(path: nil))
        let secondGroup = ServiceGroup(services: [second], logger: logger)
        let secondRunning = Task { try await secondGroup.run() }
        for value in ["k#1", "k#2"] {
            try await producer.send(
                ProducerMessage(topic: "in.takeover", key: Array("k".utf8), value: Array(value.utf8)))
        }
        try await Task.sleep(for: .seconds(3))
        #expect(target.accepted.isEmpty, "the followers wait behind the parked head")
        outage.turnOff()
        await eventually(timeout: .seconds(60)) { target.accepted.count >= 3 }
        let values = target.accepted.map { String(decoding: $0.value, as: UTF8.self) }
        #expect(values == ["k#0", "k#1", "k#2"], "per-key order across the takeover: \(values)")
        await secondGroup.triggerGracefulShutdown()
        try await secondRunning.value
        await producer.shutdown()
    }

    @Test func aPermanentFailureGoesToTheDeadLetterTopicAndTheKeyKeepsFlowing() async throws {
        let broker = try TansuBroker()
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let target = RecordingTarget { message in
            String(decoding: message.value, as: UTF8.self) == "bad" ? .permanent : .ok
        }
        let sink = try await makeSink(
            broker, name: "perm", target: target, producer: producer, store: try DeliveryStateStore(path: nil))
        let group = ServiceGroup(services: [sink], logger: logger)
        let running = Task { try await group.run() }
        for value in ["one", "bad", "two"] {
            try await producer.send(ProducerMessage(topic: "in.perm", key: Array("k".utf8), value: Array(value.utf8)))
        }
        await eventually(timeout: .seconds(60)) { target.accepted.count >= 2 }
        #expect(target.accepted.map { String(decoding: $0.value, as: UTF8.self) } == ["one", "two"])
        let parked = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "dlq.perm", count: 1, timeout: .seconds(30))
        let letter = DeadLetter(try #require(parked.first))
        #expect(String(decoding: letter.message.value, as: UTF8.self) == "bad")
        #expect(letter.reason == "HTTP 422: email is invalid")
        #expect(letter.errorClass == "target-permanent")
        #expect(letter.route == "perm")
        #expect(letter.source.hasPrefix("in.perm/"))
        await group.triggerGracefulShutdown()
        try await running.value
        await producer.shutdown()
    }

    @Test func aRedeliveredIdIsDroppedEvenAfterARestart() async throws {
        let broker = try TansuBroker()
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-dedup-\(UUID()).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let target = RecordingTarget { _ in .ok }
        let message = ProducerMessage(
            topic: "in.dedup", key: Array("k".utf8), value: Array("order-7".utf8),
            headers: [KafkaHeader(key: "crm-id", text: "msg-7")])

        let first = try await makeSink(
            broker, name: "dedup", target: target, producer: producer, store: try DeliveryStateStore(path: path))
        let firstGroup = ServiceGroup(services: [first], logger: logger)
        let firstRun = Task { try await firstGroup.run() }
        try await producer.send(message)
        await eventually(timeout: .seconds(60)) { target.accepted.count >= 1 }
        await firstGroup.triggerGracefulShutdown()
        try await firstRun.value

        // A second instance with the same store sees the same id again (as after a crash before the commit).
        let second = SinkService(
            configuration: first.configuration,
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.sink.dedup", topics: []),
            producer: producer, target: target, store: try DeliveryStateStore(path: path), state: HubState(),
            logger: logger)
        let secondGroup = ServiceGroup(services: [second], logger: logger)
        let secondRun = Task { try await secondGroup.run() }
        try await producer.send(message)
        try await producer.send(ProducerMessage(topic: "in.dedup", key: Array("k".utf8), value: Array("order-8".utf8)))
        await eventually(timeout: .seconds(60)) { target.accepted.count >= 2 }
        try await Task.sleep(for: .milliseconds(500))
        #expect(target.accepted.map { String(decoding: $0.value, as: UTF8.self) } == ["order-7", "order-8"])
        #expect(second.duplicatesSuppressed == 1)
        await secondGroup.triggerGracefulShutdown()
        try await secondRun.value
        await producer.shutdown()
    }
}
