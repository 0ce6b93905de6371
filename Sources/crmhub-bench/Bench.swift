// crmhub-bench: measures a crmhub route (consume → transform → produce → commit) against a plain librdkafka
// consume→produce loop written in C (Benchmarks/plain_loop.c), on the same broker, in one run.
// Run it through Benchmarks/route-bench.sh, which builds both, starts a Tansu broker and records the results.

import ArgumentParser
import CRMDelivery
import CRMKafka
import CRMModel
import Foundation
import Logging
import ServiceLifecycle

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crmhub-bench", abstract: "crmhub benchmarks.", subcommands: [RouteBench.self])
}

struct RouteBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route", abstract: "A route against a plain librdkafka loop, 1 KiB messages, same broker.")

    @Option(help: "Broker host:port.") var bootstrap: String
    @Option(help: "Messages per run.") var messages = 100_000
    @Option(help: "Message size in bytes.") var size = 1_024
    @Option(help: "Partitions of the benchmark topics.") var partitions: Int32 = 3
    @Option(help: "Rounds (each runs the plain loop, then the route); the best of each is reported.") var rounds = 2
    @Option(help: "Path to the compiled plain loop (Benchmarks/plain_loop.c).") var plainLoop: String
    @Option(help: "The route's max_in_flight (messages consumed but not yet acknowledged).") var maxInFlight = 2_000
    @Option(help: "File to append the result line to.") var output: String?
    @Option(help: "Free text appended to the result line (the script passes the git commit).") var note: String?

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let runID = String(UUID().uuidString.prefix(8))
        let input = "bench.in.\(runID)"
        let admin = KafkaAdmin(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        var topics = [input]
        for round in 0..<rounds {
            topics += [
                "bench.plain.\(runID).\(round)", "bench.envelope.\(runID).\(round)", "bench.hub.\(runID).\(round)",
            ]
        }
        _ = try await admin.createTopics(topics.map { .init(name: $0, partitions: partitions) })

        let preloadSeconds = try await preload(topic: input, logger: logger)
        let preloadRate = Double(messages) / preloadSeconds
        print(
            "preloaded \(messages) x \(size) B in \(String(format: "%.2f", preloadSeconds)) s (\(Int(preloadRate)) msg/s)"
        )

        var plainRates: [Double] = []
        var envelopeRates: [Double] = []
        var hubRates: [Double] = []
        var plainPeakRSS = 0
        var hubPeakRSS = 0
        // Per message, the lowest of the rounds: CPU time in µs and context switches, of each program's process.
        var plainUsage = PerMessage()
        var envelopeUsage = PerMessage()
        var hubUsage = PerMessage()
        for round in 0..<rounds {
            let plain = try runPlainLoop(
                from: input, to: "bench.plain.\(runID).\(round)", group: "bench-plain-\(runID)-\(round)")
            plainRates.append(plain.rate)
            plainPeakRSS = max(plainPeakRSS, plain.peakRSSKiB)
            plainUsage.add(plain.usage, messages: messages)
            print("round \(round + 1) plain loop: \(Int(plain.rate)) msg/s, peak RSS \(plain.peakRSSKiB) KiB")
            // The same loop doing the route's per-message work: envelope headers, offsets committed after the ack.
            let envelope = try runPlainLoop(
                from: input, to: "bench.envelope.\(runID).\(round)", group: "bench-envelope-\(runID)-\(round)",
                envelope: true)
            envelopeRates.append(envelope.rate)
            envelopeUsage.add(envelope.usage, messages: messages)
            print("round \(round + 1) plain loop with envelope: \(Int(envelope.rate)) msg/s")
            // The route runs in this process: its peak is measured from here (the preload's memory is not counted).
            ProcessMemory.resetPeak()
            let hub = try await runRoute(
                from: input, to: "bench.hub.\(runID).\(round)", group: "bench-hub-\(runID)-\(round)", logger: logger)
            hubRates.append(hub.rate)
            hubUsage.add(hub.usage, messages: messages)
            let hubRSS = ProcessMemory.peakResidentKiB() ?? 0
            hubPeakRSS = max(hubPeakRSS, hubRSS)
            print("round \(round + 1) crmhub route: \(Int(hub.rate)) msg/s, peak RSS \(hubRSS) KiB (this process)")
        }
        let plainBest = plainRates.max() ?? 0
        let envelopeBest = envelopeRates.max() ?? 0
        let hubBest = hubRates.max() ?? 0
        let ratio = plainBest > 0 ? hubBest / plainBest : 0
        let envelopeRatio = envelopeBest > 0 ? hubBest / envelopeBest : 0
        let timestamp = ISO8601DateFormatter().string(from: Date())
        let settings = "messages=\(messages) size=\(size) partitions=\(partitions) rounds=\(rounds)"
        let rates =
            "plain=\(Int(plainBest)) msg/s crmhub=\(Int(hubBest)) msg/s ratio=\(String(format: "%.2f", ratio))"
            + " plain_envelope=\(Int(envelopeBest)) msg/s ratio_envelope=\(String(format: "%.2f", envelopeRatio))"
            + " plain_rss=\(plainPeakRSS)KiB crmhub_rss=\(hubPeakRSS)KiB"
            + String(
                format: " plain_cpu=%.2fus envelope_cpu=%.2fus crmhub_cpu=%.2fus", plainUsage.cpuMicroseconds,
                envelopeUsage.cpuMicroseconds, hubUsage.cpuMicroseconds)
            + String(
                format: " plain_switches=%.4f envelope_switches=%.4f crmhub_switches=%.4f", plainUsage.switches,
                envelopeUsage.switches, hubUsage.switches)
        let line =
            "\(timestamp) route-bench \(settings) \(rates) librdkafka=\(KafkaRuntime.versionString)"
            + (note.map { " \($0)" } ?? "")
        print(line)
        if let output {
            if !FileManager.default.fileExists(atPath: output) {
                _ = FileManager.default.createFile(atPath: output, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((line + "\n").utf8))
            try handle.close()
        }
    }

    /// Writes `messages` keyed messages of `size` bytes, many in flight at once.
    private func preload(topic: String, logger: Logger) async throws -> Double {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let acknowledged = AckCounter()
        let onDelivery: @Sendable (Result<DeliveryReport, KafkaError>) -> Void = { result in
            if case .success = result { acknowledged.increment() }
        }
        let start = ContinuousClock.now
        for index in 0..<messages {
            let key: [UInt8] = Array("customer-\(index % 1_000)".utf8)
            let message = ProducerMessage(topic: topic, key: key, value: payload)
            try await enqueueWaiting(message, producer: producer, onDelivery: onDelivery)
        }
        _ = await producer.flush(timeout: .seconds(120))
        let elapsed = start.duration(to: .now)
        await producer.shutdown()
        guard acknowledged.value == messages else {
            throw ValidationError("preload: only \(acknowledged.value) of \(messages) acknowledged")
        }
        return elapsed.seconds
    }

    /// Enqueues one message, waiting while librdkafka's queue is full.
    private func enqueueWaiting(
        _ message: ProducerMessage, producer: KafkaProducer,
        onDelivery: @escaping @Sendable (Result<DeliveryReport, KafkaError>) -> Void
    ) async throws {
        while true {
            do {
                try producer.enqueue(message, onDelivery: onDelivery)
                return
            } catch {
                guard error.isRetriable else { throw error }
                try await Task.sleep(for: .milliseconds(1))
            }
        }
    }

    /// Runs the plain loop (`envelope`: with the route's headers and commit-after-ack) and returns its rate and peak.
    private func runPlainLoop(
        from: String, to: String, group: String, envelope: Bool = false
    ) throws -> (rate: Double, peakRSSKiB: Int, usage: Usage) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: plainLoop)
        process.arguments = [bootstrap, from, to, group, String(messages)] + (envelope ? ["envelope"] : [])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        func value(_ name: String) -> String? {
            text.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix(name + "=") }.map {
                String($0.dropFirst(name.count + 1))
            }
        }
        guard process.terminationStatus == 0, let rate = value("rate").flatMap(Double.init) else {
            throw ValidationError("plain loop failed (exit \(process.terminationStatus)): \(text)")
        }
        let usage = Usage(
            cpuSeconds: value("cpu_seconds").flatMap(Double.init) ?? .nan,
            contextSwitches: value("context_switches").flatMap { Int($0) } ?? 0)
        return (rate, value("max_rss_kb").flatMap { Int($0) } ?? 0, usage)
    }

    /// Runs a real `RouteService` (identity transform) and times first consumed message → last acknowledged; the
    /// process's CPU time and context switches over the same span (the progress poll below included).
    private func runRoute(
        from: String, to: String, group: String, logger: Logger
    ) async throws -> (rate: Double, usage: Usage) {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        var consumer = KafkaConsumerConfiguration(bootstrapServers: [bootstrap], groupID: group, topics: [from])
        consumer.sessionTimeoutMilliseconds = 6_000
        consumer.heartbeatIntervalMilliseconds = 1_000
        consumer.bufferCapacity = max(2_000, maxInFlight)
        let firstSeen = FirstSeen()
        let route = RouteService(
            route: RouteConfiguration(
                name: "bench", from: from, to: .topic(to), mapping: nil, maxInFlight: maxInFlight,
                location: .init(file: "bench", line: 0, column: 0)),
            consumer: consumer, producer: producer,
            transform: { TimedTransform(inner: IdentityTransform(), firstSeen: firstSeen) }, state: HubState(),
            logger: logger)
        let group = ServiceGroup(
            services: [ProducerService(producer: producer, flushTimeout: .seconds(10), logger: logger), route],
            logger: logger)
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now.advanced(by: .seconds(600))
        while route.finishedMessages < messages && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        let end = ContinuousClock.now
        let endUsage = Usage.now()
        let finished = route.finishedMessages
        await group.triggerGracefulShutdown()
        try await running.value
        guard finished >= messages, let (start, startUsage) = firstSeen.value else {
            throw ValidationError("route finished only \(finished) of \(messages)")
        }
        let elapsed: Double = start.duration(to: end).seconds
        return (Double(messages) / elapsed, endUsage - startUsage)
    }
}

/// Records when the route saw its first message, and the process's usage then.
final class FirstSeen: @unchecked Sendable {
    private let lock = NSLock()
    private var first: (ContinuousClock.Instant, Usage)?
    var value: (ContinuousClock.Instant, Usage)? { lock.withLock { first } }
    func mark() { lock.withLock { if first == nil { first = (.now, Usage.now()) } } }
}

/// CPU time (user and system) and context switches of the whole process, all threads (`getrusage(RUSAGE_SELF)`).
struct Usage {
    var cpuSeconds: Double
    var contextSwitches: Int

    static func now() -> Usage {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return Usage(
            cpuSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
            contextSwitches: usage.ru_nvcsw + usage.ru_nivcsw)
    }

    static func - (end: Usage, start: Usage) -> Usage {
        Usage(
            cpuSeconds: end.cpuSeconds - start.cpuSeconds, contextSwitches: end.contextSwitches - start.contextSwitches)
    }
}

/// The lowest CPU time (µs) and context switches per message over a benchmark's rounds.
struct PerMessage {
    var cpuMicroseconds = Double.infinity
    var switches = Double.infinity

    mutating func add(_ usage: Usage, messages: Int) {
        cpuMicroseconds = min(cpuMicroseconds, usage.cpuSeconds * 1e6 / Double(messages))
        switches = min(switches, Double(usage.contextSwitches) / Double(messages))
    }
}

struct TimedTransform: MessageTransform {
    let inner: any MessageTransform
    let firstSeen: FirstSeen
    var description: String { inner.description }
    var isStateless: Bool { inner.isStateless }
    func transform(_ message: ConsumerMessage) async -> TransformOutcome {
        firstSeen.mark()
        return await inner.transform(message)
    }
}

final class AckCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
