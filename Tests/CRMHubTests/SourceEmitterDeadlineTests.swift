import CRMConnector
import CRMKafka
import CRMTestSupport
import Logging
import Testing

@Suite("source emitter deadlines")
struct SourceEmitterDeadlineTests {
    let logger = Logger(label: "test")

    @Test("emits Kafka does not answer time out, not before their own deadline, each with its own timeout")
    func unansweredEmitsTimeOutAfterTheirDeadline() async throws {
        // Nothing listens on this port: librdkafka keeps the messages queued and never reports them.
        let port = try freePort()
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:\(port)"])
        configuration.lingerMilliseconds = 0
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        let emitter = SourceEmitter(connector: "deadline-test", producer: producer)
        let clock = ContinuousClock()
        let start = clock.now
        async let short = emitter.emit(ProducerMessage(topic: "t", value: Array("a".utf8)), within: .milliseconds(200))
        async let long = emitter.emit(ProducerMessage(topic: "t", value: Array("b".utf8)), within: .milliseconds(700))
        let shortOutcome = await short
        let shortElapsed = start.duration(to: clock.now)
        let longOutcome = await long
        let longElapsed = start.duration(to: clock.now)
        guard case .timedOut = shortOutcome, case .timedOut = longOutcome else {
            Issue.record("expected both to time out, got \(shortOutcome) and \(longOutcome)")
            return
        }
        // Never before the deadline; how long after it depends on the machine (no upper bound in a unit test).
        #expect(shortElapsed >= .milliseconds(200))
        #expect(longElapsed >= .milliseconds(700))
        await producer.shutdown(timeout: .milliseconds(100))
    }

    @Test("an acknowledged emit answers at once, and its deadline passing later changes nothing")
    func anAcknowledgedEmitIsNotTimedOutLater() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("acked", partitions: 1)
        var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.lingerMilliseconds = 0
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        let emitter = SourceEmitter(connector: "deadline-test", producer: producer)
        // The first waits for the metadata and the connection; the others are answered well within their deadline.
        for timeout in [Duration.seconds(20), .seconds(2), .seconds(2)] {
            let outcome = await emitter.emit(ProducerMessage(topic: "acked", value: Array("x".utf8)), within: timeout)
            guard case .acknowledged = outcome else {
                Issue.record("expected an acknowledgement, got \(outcome)")
                return
            }
        }
        // Past every deadline: the sweeper finds the answered waiters and leaves them be (a second resume would trap).
        try await Task.sleep(for: .milliseconds(2_200))
        await producer.shutdown(timeout: .seconds(5))
        withExtendedLifetime(cluster) {}
    }
}

@Suite("first result of a race")
struct FirstResultTests {
    @Test("a result that comes before the continuation is installed is handed over; later ones and the deadline are ignored")
    func anEarlyResultIsKept() async {
        let race = FirstResult<Int?>(onDeadline: nil)
        #expect(race.finish(1))
        #expect(!race.finish(2))
        let value = await withCheckedContinuation { race.install($0) }
        #expect(value == 1)
        race.deadlinePassed()
        #expect(!race.finish(3))
    }

    @Test("the deadline passing first resumes with the deadline's value; the work's late result is refused")
    func theDeadlineWins() async {
        let race = FirstResult<String>(onDeadline: "timed out")
        Deadlines.shared.add(race, after: .milliseconds(50))
        let value = await withCheckedContinuation { race.install($0) }
        #expect(value == "timed out")
        #expect(!race.finish("late"))
    }
}
