import CRMCSV
import CRMDelivery
import CRMKafka
import CRMMapping
import CRMModel
import Foundation
import Logging

/// Topic → file: exports the messages between the job's checkpoint and the run's cut-off to one file.
///
/// 1. The cut-off is each partition's high watermark at run start. It is stored, with the window's file name, as the
///    job's *pending run* before anything is written; a run that finds a pending run (the previous one crashed or
///    failed) reuses both, so it rewrites the same messages into the same file name.
/// 2. Messages from the checkpoint up to the cut-off are mapped and streamed to a local file (constant memory);
///    messages the mapping rejects go to the dead-letter topic and are counted.
/// 3. The file is published through the drop folder (`NAME.part`, then rename: readers never see a partial file, a
///    re-run replaces it).
/// 4. Only then the checkpoint (= cut-off) is committed, and the pending run cleared, in one SQLite transaction.
struct OutboundRun {
    let job: BatchJob
    let environment: BatchEnvironment
    let window: Date
    let metrics: BatchMetrics

    struct Outcome {
        var status: BatchRunReport.Status
        var read = 0
        var written = 0
        var rejected = 0
        var file: String?
        var checksum: String?
        var detail = ""
    }

    func run() async throws(BatchError) -> Outcome {
        let logger = environment.logger
        let state = environment.state
        let mapping = try environment.mapping(for: job)
        let reader: KafkaPartitionReader
        do {
            reader = try KafkaPartitionReader(configuration: environment.kafka, logger: logger)
        } catch {
            throw BatchError(.kafka, "job \(job.name): cannot create reader: \(error)")
        }
        let checkpoint = try state.outboundCheckpoint(job: job.name)
        let pending: BatchStateStore.PendingOutbound
        if let previous = try state.pendingOutbound(job: job.name) {
            pending = previous
            logger.warning(
                "batch \(job.name): an earlier run did not commit; rewriting its window",
                metadata: ["file": "\(previous.fileName)", "window": "\(previous.window)"])
        } else {
            let cutoff = try await highWatermarks(reader, checkpoint: checkpoint)
            pending = BatchStateStore.PendingOutbound(
                window: batchWindowName(window),
                fileName: batchFileName(pattern: job.filePattern, job: job.name, window: window), cutoff: cutoff)
        }
        // Where each partition starts: the checkpoint, else the partition's start.
        var start: [TopicPartition: Int64] = [:]
        for (partition, cut) in pending.cutoff {
            let from = checkpoint[partition] ?? 0
            if from < cut { start[partition] = from }
        }
        let total = start.reduce(Int64(0)) { $0 + (pending.cutoff[$1.key]! - $1.value) }
        if start.isEmpty && job.emptyPolicy == .skip {
            logger.info("batch \(job.name): nothing new in the window; no file (empty: skip)")
            try state.commitOutbound(job: job.name, checkpoint: pending.cutoff)
            return Outcome(status: .empty, detail: "empty window")
        }
        try state.beginOutbound(job: job.name, pending: pending)

        try? FileManager.default.createDirectory(at: environment.workDirectory, withIntermediateDirectories: true)
        let localPath = environment.workDirectory.appendingPathComponent("\(job.name)-\(pending.window).export").path
        let writer = try BufferedFileWriter(path: localPath)
        defer { try? FileManager.default.removeItem(atPath: localPath) }
        var outcome = Outcome(status: .succeeded)
        let csvWriter: CSVWriter?
        var columns: [BatchJob.Column] = []
        if case .csv(let csv) = job.format {
            let w = CSVWriter(options: csv.options)
            csvWriter = w
            columns = csv.columns
            if csv.header { try writer.write(w.encode(csv.columns.map(\.name))) }
        } else {
            csvWriter = nil
        }

        var dlq = DeadLetterSender(environment: environment, job: job)
        var progress = ProgressReporter(
            job: job.name, interval: job.progressSeconds, logger: logger, sink: environment.onProgress)
        logger.info("batch \(job.name): exporting \(total) messages to \(pending.fileName)")
        if !start.isEmpty {
            do {
                try reader.assign(start.map { TopicPartitionOffset($0.key, offset: $0.value) })
            } catch {
                throw BatchError(.kafka, "job \(job.name): cannot assign partitions: \(error)")
            }
        }
        var remaining = Set(start.keys)
        var lastActivity = Date()
        while !remaining.isEmpty {
            if Task.isCancelled { throw BatchError(.cancelled, "job \(job.name) cancelled") }
            let events: [KafkaPartitionReader.Event]
            do {
                events = try await reader.poll(maxMessages: 1_000, timeout: .milliseconds(200))
            } catch {
                throw BatchError(.kafka, "job \(job.name): read failed: \(error)")
            }
            if events.isEmpty {
                if Date().timeIntervalSince(lastActivity) > 60 {
                    throw BatchError(
                        .kafka,
                        "job \(job.name): no data for 60 s before the cut-off of \(remaining.map(\.description).sorted())"
                    )
                }
                continue
            }
            lastActivity = Date()
            for event in events {
                switch event {
                case .endOfPartition(let partition, let offset):
                    if let cut = pending.cutoff[partition], offset >= cut { remaining.remove(partition) }
                case .message(let message):
                    guard let cut = pending.cutoff[message.topicPartition], remaining.contains(message.topicPartition)
                    else { continue }
                    if message.offset >= cut {
                        remaining.remove(message.topicPartition)
                        continue
                    }
                    if message.offset == cut - 1 { remaining.remove(message.topicPartition) }
                    outcome.read += 1
                    metrics.read.increment()
                    let rows = try await export(
                        message, mapping: mapping, csv: csvWriter, columns: columns, dlq: &dlq, outcome: &outcome)
                    for row in rows { try writer.write(row) }
                }
            }
            progress.tick(rows: outcome.read, note: "\(outcome.written) written, \(outcome.rejected) rejected")
        }
        await dlq.finish()
        let checksum = try writer.close()
        let drop = try environment.drops.open(job.drop)
        do {
            try await drop.publish(URL(fileURLWithPath: localPath), as: pending.fileName)
        } catch {
            throw BatchError(
                .file, "job \(job.name): cannot publish \(pending.fileName) to \(drop.description): \(error)")
        }
        try state.commitOutbound(job: job.name, checkpoint: pending.cutoff)
        progress.tick(rows: outcome.read, note: "\(outcome.written) written, \(outcome.rejected) rejected", force: true)
        outcome.file = pending.fileName
        outcome.checksum = checksum
        outcome.status = outcome.read == 0 ? .empty : .succeeded
        outcome.detail = "published to \(drop.description)"
        return outcome
    }

    /// End offset of every partition of the job's topics (as fetch responses report it), read from the checkpoint.
    func highWatermarks(
        _ reader: KafkaPartitionReader, checkpoint: [TopicPartition: Int64]
    ) async throws(BatchError) -> [TopicPartition: Int64] {
        let counts: [String: Int32]
        do {
            counts = try await reader.partitionCounts(job.topics)
        } catch {
            throw BatchError(.kafka, "job \(job.name): cannot read metadata: \(error)")
        }
        var starts: [TopicPartitionOffset] = []
        for topic in job.topics {
            guard let count = counts[topic] else {
                throw BatchError(.kafka, "job \(job.name): topic \(topic) does not exist")
            }
            for partition in 0..<count {
                let tp = TopicPartition(topic: topic, partition: partition)
                starts.append(TopicPartitionOffset(tp, offset: checkpoint[tp] ?? 0))
            }
        }
        do {
            let probe = try KafkaPartitionReader(configuration: environment.kafka, logger: environment.logger)
            return try await probe.endOffsets(from: starts)
        } catch {
            throw BatchError(.kafka, "job \(job.name): cannot read the end offsets: \(error)")
        }
    }

    /// The encoded rows for one message (none when it is dropped or dead-lettered).
    func export(
        _ message: ConsumerMessage, mapping: CompiledMapping?, csv: CSVWriter?, columns: [BatchJob.Column],
        dlq: inout DeadLetterSender, outcome: inout Outcome
    ) async throws(BatchError) -> [[UInt8]] {
        var values: [JSONValue] = []
        if let mapping {
            // The rows are made from the records' values: have the mapping make trees, not JSON.
            var context = environment.mappingContext
            context.recordValues = true
            do {
                switch try mapping.apply(message.value, context: context) {
                case .dropped: return []
                case .output(let records): values = records.map(\.value)
                }
            } catch {
                outcome.rejected += 1
                metrics.rejected.increment()
                let failure = DeliveryFailure(reason: error.description, errorClass: "mapping-\(error.kind.rawValue)")
                try await dlq.send(
                    DeadLetter.record(
                        for: message, failure: failure, route: "batch:\(job.name)",
                        mappingVersion: "\(mapping.name)@\(mapping.version)",
                        topic: job.deadLetterTopic))
                return []
            }
        } else {
            do {
                values = [try JSONValue.parse(message.value)]
            } catch {
                outcome.rejected += 1
                metrics.rejected.increment()
                let failure = DeliveryFailure(reason: "not JSON: \(error.description)", errorClass: "validation")
                try await dlq.send(
                    DeadLetter.record(
                        for: message, failure: failure, route: "batch:\(job.name)", mappingVersion: nil,
                        topic: job.deadLetterTopic))
                return []
            }
        }
        var rows: [[UInt8]] = []
        for value in values {
            if let csv {
                rows.append(csv.encode(columns.map { value.value(atPath: $0.path)?.cellText ?? "" }))
            } else {
                var line = value.jsonBytes()
                line.append(0x0A)
                rows.append(line)
            }
        }
        outcome.written += rows.count
        metrics.produced.increment(by: rows.count)
        return rows
    }
}

/// Sends dead letters through a producer created on first use.
struct DeadLetterSender {
    let environment: BatchEnvironment
    let job: BatchJob
    private var producer: KafkaProducer?

    init(environment: BatchEnvironment, job: BatchJob) {
        self.environment = environment
        self.job = job
    }

    mutating func send(_ message: ProducerMessage) async throws(BatchError) {
        if producer == nil {
            do {
                producer = try KafkaProducer(
                    configuration: KafkaProducerConfiguration(client: environment.kafka), logger: environment.logger)
            } catch {
                throw BatchError(.kafka, "job \(job.name): cannot create the dead-letter producer: \(error)")
            }
        }
        do {
            try await producer!.send(message)
        } catch {
            throw BatchError(.kafka, "job \(job.name): cannot dead-letter to \(message.topic): \(error)")
        }
    }

    mutating func finish() async {
        await producer?.shutdown()
        producer = nil
    }
}

extension KafkaProducerConfiguration {
    /// Producer settings (idempotent, acks=all) over existing client settings.
    init(client: KafkaClientConfiguration) {
        self.init(bootstrapServers: client.bootstrapServers)
        self.client = client
    }
}
