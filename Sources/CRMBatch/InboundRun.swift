import CRMConnector
import CRMDelivery
import CRMKafka
import CRMMapping
import CRMModel
import CRMTransport
import Foundation
import Logging
import Synchronization

/// File → topics: imports every settled file of the drop folder that matches the job's pattern.
///
/// Per file: fetch to a local file, SHA-256 it, stream-parse (CSV or JSON lines), map each row, produce with the
/// idempotent producer (`acks=all`). Each message's `crm-id` is derived from the file's SHA-256, the row number and
/// the record's index in the row, so it is the same in every run.
///
/// **Crash safety.** The row checkpoint (rows 1...N done) is saved after acknowledged row ranges (every
/// `checkpoint_rows` rows or second), with, per output partition, the offset after the highest acknowledged message
/// of those rows. A resumed run first scans the output topics (and the dead-letter topic) from those offsets for
/// messages carrying this file's checksum: rows produced after the checkpoint but before the crash — including
/// messages the broker appended whose acknowledgement never arrived — are found by `crm-id` and not produced again.
/// Messages of one partition are appended in produce order, so nothing written after the checkpoint lies before the
/// scanned offsets. The scan starts ``resumeSettle`` after the resume, so requests the crashed run had already sent
/// are appended (and found) first. Duplicates therefore cannot appear, unless the topic's data before the scan point is also
/// lost; rows are never skipped, because the checkpoint only covers acknowledged rows.
///
/// Bad rows (parse or mapping errors) go to the dead-letter topic with the file name and line number (tracked like
/// any other message, so they are not doubled either). After every row is acknowledged the file moves to
/// `archive/`; a file rejected as a whole (header mismatch, too many bad rows, same content as an earlier file)
/// moves to `rejected/` with `NAME.report.json`, before anything is produced.
struct InboundRun: Sendable {
    /// How long a resumed run waits before its dedup scan, for requests a crashed run had sent to be appended.
    static let resumeSettle: Duration = .seconds(2)

    let job: BatchJob
    let environment: BatchEnvironment
    let metrics: BatchMetrics

    struct Outcome {
        var status: BatchRunReport.Status = .empty
        var read = 0
        var produced = 0
        var rejected = 0
        var files: [String] = []
        var checksums: [String] = []
        var notes: [String] = []
    }

    func run() async throws(BatchError) -> Outcome {
        let drop = try environment.drops.open(job.drop)
        var files = try await list(drop)
        if job.settleSeconds > 0, !files.isEmpty {
            // A file still being written changes size or time between two listings: leave it for the next run.
            try? await Task.sleep(for: .milliseconds(Int(job.settleSeconds * 1000)))
            let again = Dictionary(try await list(drop).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let settled = files.filter { again[$0.name] == $0 }
            for file in files where again[file.name] != file {
                environment.logger.info("batch \(job.name): \(file.name) is still changing; left for the next run")
            }
            files = settled
        }
        var outcome = Outcome()
        guard !files.isEmpty else { return outcome }
        let producer: KafkaProducer
        do {
            var configuration = KafkaProducerConfiguration(client: environment.kafka)
            configuration.lingerMilliseconds = 20
            producer = try KafkaProducer(configuration: configuration, logger: environment.logger)
        } catch {
            throw BatchError(.kafka, "job \(job.name): cannot create producer: \(error)")
        }
        let emitter = SourceEmitter(
            connector: "batch:\(job.name)", producer: producer, deadLetterTopic: job.deadLetterTopic)
        do {
            for file in files {
                try await importFile(file, drop: drop, emitter: emitter, outcome: &outcome)
            }
        } catch {
            await producer.shutdown(timeout: .seconds(5))
            throw error
        }
        await producer.shutdown()
        if outcome.status == .empty && !outcome.files.isEmpty { outcome.status = .succeeded }
        return outcome
    }

    private func list(_ drop: any FileDrop) async throws(BatchError) -> [DroppedFile] {
        do {
            return try await drop.list(matching: job.filePattern)
        } catch {
            throw BatchError(.file, "job \(job.name): cannot list \(drop.description): \(error)")
        }
    }

    // MARK: One file

    func importFile(
        _ file: DroppedFile, drop: any FileDrop, emitter: SourceEmitter, outcome: inout Outcome
    ) async throws(BatchError) {
        let logger = environment.logger
        let state = environment.state
        try? FileManager.default.createDirectory(at: environment.workDirectory, withIntermediateDirectories: true)
        let local = environment.workDirectory.appendingPathComponent("\(job.name)-\(file.name).import")
        defer { try? FileManager.default.removeItem(at: local) }
        do {
            try await drop.fetch(file.name, to: local)
        } catch {
            throw BatchError(.file, "job \(job.name): cannot fetch \(file.name): \(error)")
        }
        let sha = try fileSHA256(local.path)
        let size = (try? FileManager.default.attributesOfItem(atPath: local.path)[.size] as? NSNumber)?.int64Value
        outcome.files.append(file.name)
        outcome.checksums.append(sha)

        var fileState = try state.inboundFile(job: job.name, sha256: sha)
        if let done = fileState, done.status != .inProgress {
            if done.fileName == file.name {
                // The previous run finished the rows but stopped before moving the file.
                try await move(file.name, into: done.status == .done ? "archive" : "rejected", drop: drop)
                outcome.notes.append("\(file.name): already imported, moved")
            } else {
                try await reject(
                    file.name, sha: sha, reason: "same content (SHA-256 \(sha)) as \(done.fileName), imported earlier",
                    rows: 0, bad: 0,
                    drop: drop)
                outcome.notes.append("\(file.name): duplicate of \(done.fileName), rejected")
            }
            return
        }
        let mapping = try environment.mapping(for: job)

        // Whole-file checks first, so a rejected file produces nothing.
        if fileState == nil {
            if let problem = try validate(local.path, mapping: mapping) {
                try await reject(
                    file.name, sha: sha, reason: problem.reason, rows: problem.rows, bad: problem.bad, drop: drop)
                try state.saveInboundFile(
                    job: job.name, sha256: sha,
                    .init(fileName: file.name, rowsDone: 0, status: .rejected, scanFrom: [:]))
                outcome.notes.append("\(file.name): rejected (\(problem.reason))")
                return
            }
        }

        let reader: KafkaPartitionReader
        do {
            reader = try KafkaPartitionReader(configuration: environment.kafka, logger: logger)
        } catch {
            throw BatchError(.kafka, "job \(job.name): cannot create reader: \(error)")
        }
        let outputTopics = Array(Set(job.destinations.values).union([job.deadLetterTopic])).sorted()
        var alreadyProduced: Set<String> = []
        if let resumed = fileState {
            // A crashed run's last produce requests may still be in the broker's hands (sent, not yet appended); the
            // scan waits for them, or it would miss those rows and produce them again.
            try? await Task.sleep(for: Self.resumeSettle)
            alreadyProduced = try await producedAfterCheckpoint(
                reader, topics: outputTopics, from: resumed.scanFrom, sha: sha)
            logger.info(
                "batch \(job.name): resuming \(file.name) after row \(resumed.rowsDone)",
                metadata: ["already_produced_after_checkpoint": "\(alreadyProduced.count)"])
            environment.onProgress?(
                "batch \(job.name) resume: \(file.name) after row \(resumed.rowsDone), \(alreadyProduced.count) messages already on the topic"
            )
        } else {
            let start = try await currentEnds(reader, topics: outputTopics)
            let fresh = BatchStateStore.InboundFile(
                fileName: file.name, rowsDone: 0, status: .inProgress, scanFrom: start)
            try state.saveInboundFile(job: job.name, sha256: sha, fresh)
            fileState = fresh
        }
        guard var current = fileState else { return }

        logger.info(
            "batch \(job.name): importing \(file.name)", metadata: ["sha256": "\(sha)", "bytes": "\(size ?? -1)"])
        let tracker = AckTracker(rowsDone: current.rowsDone, scanFrom: current.scanFrom)
        let deliveries = emitter.metered(tracker)
        var progress = ProgressReporter(
            job: job.name, interval: job.progressSeconds, logger: logger, sink: environment.onProgress)
        var rows = RowSource(job: job, path: local.path)
        try rows.open()
        var lastSave = Date()
        var savedRows = current.rowsDone
        var counts = (read: 0, bad: 0, skipped: 0)
        let builder = MessageBuilder(run: self, file: file.name, sha: sha, mapping: mapping, rows: rows.rowObject)
        // Rows are read and built a chunk at a time, then begun, produced and checkpointed one by one in row order.
        // Building (the mapping above all) is most of an import's CPU time: it runs on one task per CPU, and the next
        // chunk is built while this one is produced and the one after it is read. Rows are independent, so reading
        // and building ahead changes no outcome.
        func readChunk() -> [ParsedRow] {
            var chunk: [ParsedRow] = []
            chunk.reserveCapacity(MessageBuilder.chunkRows)
            while chunk.count < MessageBuilder.chunkRows, let row = rows.next() {
                if row.number > current.rowsDone { chunk.append(row) }
            }
            return chunk
        }
        // Saves the rows done and their offsets, read together (a status's row count may be older than the offsets).
        func saveCheckpoint() throws(BatchError) {
            let checkpoint = tracker.checkpoint
            (current.rowsDone, current.scanFrom) = checkpoint
            try state.saveInboundFile(job: job.name, sha256: sha, current)
            savedRows = checkpoint.rowsDone
            lastSave = Date()
        }
        var chunk = readChunk()
        var built = await builder.build(chunk)
        var upcoming = readChunk()
        // Time the row loop spent waiting for Kafka (rows in flight at the limit, or librdkafka's queue full):
        // reported with the file, it says whether the broker or the import set the pace.
        var waited = WaitTime()
        while !chunk.isEmpty {
            let building = upcoming
            async let upcomingBuilt = builder.build(building)
            metrics.read.increment(by: chunk.count)
            counts.read += chunk.count
            // Each row's messages are moved out of the chunk (not copied: a copy retains every array a message holds,
            // and those are released again on the producer's poll thread).
            for index in chunk.indices {
                let row = chunk[index].number
                var messages: [OutgoingMessage] = []
                swap(&messages, &built[index])
                if messages.first?.isDeadLetter == true {
                    counts.bad += 1
                    metrics.rejected.increment()
                }
                if !alreadyProduced.isEmpty {
                    messages = messages.filter { message in
                        if alreadyProduced.contains(message.id) {
                            counts.skipped += 1
                            return false
                        }
                        return true
                    }
                }
                var status = tracker.begin(row: row, messages: messages.count)
                for position in messages.indices {
                    try await enqueue(
                        messages[position].message, row: row, emitter: emitter, deliveries: deliveries, waited: &waited)
                }
                if status.inFlight >= environment.maxInFlight {
                    let start = ContinuousClock.now
                    while status.inFlight >= environment.maxInFlight {
                        try status.check(job: job.name)
                        try? await Task.sleep(for: .milliseconds(1))
                        status = tracker.status
                    }
                    waited.add(since: start)
                }
                try status.check(job: job.name)
                if status.rowsDone - savedRows >= job.checkpointRows { try saveCheckpoint() }
            }
            // Once a chunk, not once a row: the clock is read for the time-based checkpoint and the progress line.
            if tracker.rowsDone > savedRows && Date().timeIntervalSince(lastSave) >= 1 { try saveCheckpoint() }
            progress.tick(
                rows: counts.read, bytes: rows.bytesRead, totalBytes: size, note: "checkpoint row \(savedRows)")
            let next = upcoming.isEmpty ? [] : readChunk()
            (chunk, built, upcoming) = (upcoming, await upcomingBuilt, next)
        }
        // Every message acknowledged (or failed) before the file is done.
        let flushStart = ContinuousClock.now
        _ = await emitter.producer.flush(timeout: .seconds(120))
        let ackDeadline = Date().addingTimeInterval(30)
        while tracker.inFlight > 0 {
            try tracker.check(job: job.name)
            guard Date() < ackDeadline else {
                throw BatchError(
                    .kafka,
                    "job \(job.name): \(tracker.inFlight) messages of \(file.name) still unacknowledged; the checkpoint stays at row \(tracker.rowsDone)"
                )
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        waited.add(since: flushStart)
        try tracker.check(job: job.name)
        (current.rowsDone, current.scanFrom) = tracker.checkpoint
        current.status = .done
        try state.saveInboundFile(job: job.name, sha256: sha, current)
        try await move(file.name, into: "archive", drop: drop)
        progress.tick(
            rows: counts.read, bytes: size, totalBytes: size,
            note: "done, checkpoint row \(current.rowsDone), \(waited.description) waiting for Kafka", force: true)
        let produced = tracker.acknowledged
        metrics.produced.increment(by: produced)
        outcome.read += counts.read
        outcome.produced += produced
        outcome.rejected += counts.bad
        outcome.status = .succeeded
        if counts.skipped > 0 {
            outcome.notes.append(
                "\(file.name): \(counts.skipped) messages found on the topic after the checkpoint, not produced again")
        }
        logger.info(
            "batch \(job.name): imported \(file.name)",
            metadata: [
                "rows": "\(counts.read)", "produced": "\(produced)", "bad": "\(counts.bad)", "sha256": "\(sha)",
                "waited_for_kafka_seconds": "\(waited.seconds)",
            ])
    }

    /// Enqueues a message of `row`; its delivery goes to `deliveries` (the file's ``AckTracker``) tagged with the row.
    private func enqueue(
        _ message: ProducerMessage, row: Int, emitter: SourceEmitter, deliveries: SourceEmitter.MeteredReceiver,
        waited: inout WaitTime
    ) async throws(BatchError) {
        // librdkafka's local queue may be full (RD_KAFKA_RESP_ERR__QUEUE_FULL): wait for room, about 2 minutes at most.
        for _ in 0..<120_000 {
            let refusal: KafkaError? = Self.tryEnqueue(message, row: row, emitter: emitter, deliveries: deliveries)
            guard let refusal else { return }
            if refusal.rdkafkaCode != -184 {
                throw BatchError(.kafka, "job \(job.name): cannot produce row \(row) to \(message.topic): \(refusal)")
            }
            let start = ContinuousClock.now
            try? await Task.sleep(for: .milliseconds(1))
            waited.add(since: start)
        }
        throw BatchError(.kafka, "job \(job.name): the producer queue stayed full for 2 minutes at row \(row)")
    }

    private static func tryEnqueue(
        _ message: ProducerMessage, row: Int, emitter: SourceEmitter, deliveries: SourceEmitter.MeteredReceiver
    ) -> KafkaError? {
        do {
            try emitter.enqueue(message, tag: row, to: deliveries)
            return nil
        } catch {
            return error
        }
    }

    /// Time spent waiting, summed.
    struct WaitTime: CustomStringConvertible {
        private(set) var total: Duration = .zero

        mutating func add(since start: ContinuousClock.Instant) { total += ContinuousClock.now - start }

        /// Seconds with one decimal: "4.2".
        var seconds: String {
            let tenths = total.components.seconds * 10 + total.components.attoseconds / 100_000_000_000_000_000
            return "\(tenths / 10).\(tenths % 10)"
        }

        /// "4.2 s".
        var description: String { "\(seconds) s" }
    }

    // MARK: Building messages

    struct OutgoingMessage {
        var message: ProducerMessage
        var isDeadLetter: Bool

        /// The message's `crm-id` (read back only when a resumed import compares it with what is on the topic).
        var id: String { message.headers.text(EnvelopeHeader.id) ?? "" }
    }

    /// `<first 16 hex digits of the file's SHA-256>-<row>-<record index>`: the same in every run of the same content.
    func messageID(sha: String, row: Int, index: Int) -> String {
        "\(sha.prefix(16))-\(row)-\(index)"
    }

    func deadLetter(
        _ row: ParsedRow, raw: [UInt8], reason: String, errorClass: String, headers: [KafkaHeader], sha: String
    ) -> OutgoingMessage {
        let id = messageID(sha: sha, row: row.number, index: 0)
        let fileName = headers.text(BatchHeader.file) ?? "-"
        let letter = DeadLetter.record(
            key: nil, value: raw, headers: headers, id: id, source: "file:\(fileName):\(row.line)",
            failure: DeliveryFailure(reason: "\(fileName) line \(row.line): \(reason)", errorClass: errorClass),
            route: "batch:\(job.name)",
            mappingVersion: nil, topic: job.deadLetterTopic)
        return OutgoingMessage(message: letter, isDeadLetter: true)
    }

    // MARK: Whole-file validation

    struct Problem {
        var reason: String
        var rows: Int
        var bad: Int
    }

    /// Checks the header (CSV with declared columns) and, when the job has a reject policy, counts bad rows in a
    /// first pass. Nil when the file may be imported.
    func validate(_ path: String, mapping: CompiledMapping?) throws(BatchError) -> Problem? {
        var rows = RowSource(job: job, path: path)
        do {
            try rows.open()
        } catch {
            if error.kind == .input { return Problem(reason: error.message, rows: 0, bad: 0) }
            throw error
        }
        guard job.reject.maxBadRows != nil || job.reject.maxBadRatio != nil else { return nil }
        var total = 0
        var bad = 0
        while let row = rows.next() {
            total += 1
            if case .failure = row.content {
                bad += 1
            } else if let mapping, let value = row.value {
                do { _ = try mapping.apply(value, context: environment.mappingContext) } catch { bad += 1 }
            }
        }
        if let max = job.reject.maxBadRows, bad > max {
            return Problem(reason: "\(bad) bad rows of \(total) (more than max_bad_rows \(max))", rows: total, bad: bad)
        }
        if let ratio = job.reject.maxBadRatio, total > 0, Double(bad) / Double(total) > ratio {
            return Problem(
                reason: "\(bad) bad rows of \(total) (more than max_bad_ratio \(ratio))", rows: total, bad: bad)
        }
        return nil
    }

    func reject(
        _ name: String, sha: String, reason: String, rows: Int, bad: Int, drop: any FileDrop
    ) async throws(BatchError) {
        environment.logger.warning("batch \(job.name): rejecting \(name): \(reason)")
        let report: [String: Any] = [
            "job": job.name, "file": name, "sha256": sha, "reason": reason, "rows": rows, "bad_rows": bad,
            "rejected_at": Date().formatted(.iso8601), "produced": 0,
        ]
        let reportName = "\(name).report.json"
        let local = environment.workDirectory.appendingPathComponent("\(job.name)-\(reportName)")
        defer { try? FileManager.default.removeItem(at: local) }
        do {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: local)
            try await drop.publish(local, as: reportName)
        } catch {
            throw BatchError(.file, "job \(job.name): cannot write \(reportName): \(error)")
        }
        try await move(reportName, into: "rejected", drop: drop)
        try await move(name, into: "rejected", drop: drop)
    }

    func move(_ name: String, into folder: String, drop: any FileDrop) async throws(BatchError) {
        do {
            try await drop.move(name, into: folder)
        } catch {
            throw BatchError(.file, "job \(job.name): cannot move \(name) into \(folder)/: \(error)")
        }
    }

    // MARK: Dedup scan

    /// End offset of every existing partition of `topics` (topics not created yet are absent: they start at 0).
    func currentEnds(
        _ reader: KafkaPartitionReader, topics: [String]
    ) async throws(BatchError) -> [TopicPartition: Int64] {
        let counts: [String: Int32]
        do { counts = try await reader.partitionCounts(topics) } catch {
            throw BatchError(.kafka, "job \(job.name): metadata: \(error)")
        }
        var starts: [TopicPartitionOffset] = []
        for (topic, count) in counts {
            for partition in 0..<count {
                starts.append(TopicPartitionOffset(TopicPartition(topic: topic, partition: partition), offset: 0))
            }
        }
        do {
            let probe = try KafkaPartitionReader(configuration: environment.kafka, logger: environment.logger)
            return try await probe.endOffsets(from: starts)
        } catch {
            throw BatchError(.kafka, "job \(job.name): end offsets of \(topics): \(error)")
        }
    }

    /// `crm-id`s of this file's messages in `topics` from `from` (0 for partitions not listed) to the current end.
    func producedAfterCheckpoint(
        _ reader: KafkaPartitionReader, topics: [String], from: [TopicPartition: Int64], sha: String
    ) async throws(BatchError) -> Set<String> {
        let ends = try await currentEnds(reader, topics: topics)
        var start: [TopicPartition: Int64] = [:]
        for (tp, end) in ends {
            let begin = from[tp] ?? 0
            if begin < end { start[tp] = begin }
        }
        var ids: Set<String> = []
        guard !start.isEmpty else { return ids }
        do { try reader.assign(start.map { TopicPartitionOffset($0.key, offset: $0.value) }) } catch {
            throw BatchError(.kafka, "job \(job.name): assign for the dedup scan: \(error)")
        }
        var remaining = Set(start.keys)
        var idle = Date()
        while !remaining.isEmpty {
            let events: [KafkaPartitionReader.Event]
            do { events = try await reader.poll(maxMessages: 1_000) } catch {
                throw BatchError(.kafka, "job \(job.name): dedup scan: \(error)")
            }
            if events.isEmpty {
                if Date().timeIntervalSince(idle) > 30 {
                    throw BatchError(.kafka, "job \(job.name): dedup scan stalled")
                }
                continue
            }
            idle = Date()
            for event in events {
                switch event {
                case .endOfPartition(let tp, let offset):
                    if let end = ends[tp], offset >= end { remaining.remove(tp) }
                case .message(let message):
                    if let end = ends[message.topicPartition], message.offset >= end - 1 {
                        remaining.remove(message.topicPartition)
                    }
                    if message.headers.text(BatchHeader.fileSHA256) == sha,
                        let id = message.headers.text(EnvelopeHeader.id)
                    {
                        ids.insert(id)
                    }
                }
            }
        }
        return ids
    }
}

/// Builds one file's messages row by row; what is the same for every row (the job, file and checksum headers, the
/// id prefix, the mapping header) is made once.
struct MessageBuilder: Sendable {
    typealias OutgoingMessage = InboundRun.OutgoingMessage

    let run: InboundRun
    let sha: String
    /// The job's mapping and what its rows share, or nil for an import without a mapping.
    private let mapped: Mapped?
    let context: MappingContext
    /// Job, file and checksum headers.
    private let fileHeaders: [KafkaHeader]
    /// The first 16 hex digits of the checksum and a dash: the start of every `crm-id`.
    private let idPrefix: [UInt8]

    /// A mapping with its `crm-mapping` header and a CSV file's row layout, behind one reference: a row reads it
    /// without copying the compiled mapping's many parts (a retain and a release each).
    private final class Mapped: Sendable {
        let mapping: CompiledMapping
        let header: KafkaHeader
        /// A CSV file's row layout and where the mapping reads the columns: as texts in its slots
        /// (``CompiledMapping/apply(columns:ends:layout:context:)``), or where it cannot, by position among the
        /// members of the row's object (``CompiledMapping/apply(_:layout:context:)``).
        let rowLayout: (rows: ColumnObject, reading: Reading)?

        enum Reading {
            case columns(CompiledMapping.ColumnLayout)
            case members(CompiledMapping.RootLayout)
        }

        init(_ mapping: CompiledMapping, rows: ColumnObject?) {
            self.mapping = mapping
            header = KafkaHeader(key: EnvelopeHeader.mapping, text: "\(mapping.name)@\(mapping.version)")
            rowLayout = rows.map { rows in
                let reading =
                    mapping.columnLayout(rows: rows).map(Reading.columns)
                    ?? .members(mapping.rootLayout(rootMembers: rows.rootNames))
                return (rows, reading)
            }
        }
    }

    init(run: InboundRun, file: String, sha: String, mapping: CompiledMapping?, rows: ColumnObject?) {
        self.run = run
        self.sha = sha
        mapped = mapping.map { Mapped($0, rows: rows) }
        context = run.environment.mappingContext
        fileHeaders = [
            KafkaHeader(key: BatchHeader.job, text: run.job.name),
            KafkaHeader(key: BatchHeader.file, text: file),
            KafkaHeader(key: BatchHeader.fileSHA256, text: sha),
        ]
        idPrefix = Array("\(sha.prefix(16))-".utf8)
    }

    /// The `crm-id` header of a row's record: `<first 16 hex digits of the file's SHA-256>-<row>-<record index>`
    /// (``InboundRun/messageID(sha:row:index:)``), written as bytes in one allocation.
    private func idHeader(row: Int, index: Int) -> KafkaHeader {
        var id = idPrefix
        id.reserveCapacity(idPrefix.count + 2 * 20 + 1)
        Self.appendDecimal(row, to: &id)
        id.append(UInt8(ascii: "-"))
        Self.appendDecimal(index, to: &id)
        return KafkaHeader(key: EnvelopeHeader.id, value: id)
    }

    /// The decimal digits of `number` (not negative) as bytes.
    static func decimal(_ number: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        appendDecimal(number, to: &bytes)
        return bytes
    }

    /// Appends the decimal digits of `number` (not negative) to `bytes`.
    static func appendDecimal(_ number: Int, to bytes: inout [UInt8]) {
        precondition(number >= 0, "row and record numbers are not negative")
        let start = bytes.count
        var rest = number
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        // Reversed in place: `bytes[start...].reverse()` copied the whole array (the slice shares its buffer).
        var (low, high) = (start, bytes.count - 1)
        while low < high {
            bytes.swapAt(low, high)
            (low, high) = (low + 1, high - 1)
        }
    }

    /// Rows read and built together (``build(_:)-([ParsedRow])``).
    static let chunkRows = 512

    /// The messages of each row of `chunk`, in order, built on up to one task per CPU: the mapping, most of an
    /// import's CPU time, uses the cores there are. Rows stay independent: a row's messages depend on the row alone.
    func build(_ chunk: [ParsedRow]) async -> [[OutgoingMessage]] {
        let builder = self
        return await chunk.concurrentMap { builder.build($0) }
    }

    func build(_ row: ParsedRow) -> [OutgoingMessage] {
        // The row's headers; the record's id is added last (room for the row, the line, the mapping and the id).
        var common: [KafkaHeader] = []
        common.reserveCapacity(fileHeaders.count + 4)
        common.append(contentsOf: fileHeaders)
        common.append(KafkaHeader(key: BatchHeader.row, value: Self.decimal(row.number)))
        common.append(KafkaHeader(key: BatchHeader.line, value: Self.decimal(row.line)))
        let job = run.job
        if case .failure(let reason, let errorClass, let raw) = row.content {
            return [run.deadLetter(row, raw: raw, reason: reason, errorClass: errorClass, headers: common, sha: sha)]
        }
        /// The row as JSON: the message of an import without a mapping, the value of a dead letter. A CSV row's is
        /// written straight from its text.
        func rowJSON() -> [UInt8] {
            switch row.content {
            case .columns(let record, let rows): rows.jsonBytes(record)
            case .value(let value): value.jsonBytes()
            case .failure(_, _, let raw): raw
            }
        }
        guard let mapped else { return [unmapped(row, value: rowJSON(), headers: consume common)] }
        common.append(mapped.header)
        let result: MappingResult
        do {
            switch (row.content, mapped.rowLayout) {
            case (.columns(let record, let rows), let (layoutRows, reading)?) where layoutRows === rows:
                switch reading {
                case .columns(let layout):
                    result = try mapped.mapping.apply(
                        columns: record.text, ends: record.ends, layout: layout, context: context)
                case .members(let layout):
                    result = try mapped.mapping.apply(rows.value(record.fields), layout: layout, context: context)
                }
            case (.columns(let record, let rows), _):
                result = try mapped.mapping.apply(rows.value(record.fields), context: context)
            case (.value(let value), _):
                result = try mapped.mapping.apply(value, context: context)
            case (.failure, _):
                preconditionFailure("a row that could not be read is a dead letter above")
            }
        } catch {
            return [
                run.deadLetter(
                    row, raw: rowJSON(), reason: error.description,
                    errorClass: "mapping-\(error.kind.rawValue)", headers: common, sha: sha)
            ]
        }
        guard case .output(let records) = result else { return [] }
        var messages: [OutgoingMessage] = []
        messages.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            guard let topic = job.topic(forEntity: record.entity) else {
                return [
                    run.deadLetter(
                        row, raw: rowJSON(), reason: "no topic for entity \(record.entity) in the job's 'to'",
                        errorClass: "configuration",
                        headers: common, sha: sha)
                ]
            }
            // The last record takes the row's headers as they are (no copy); earlier ones copy them.
            var headers: [KafkaHeader] = []
            if index == records.count - 1 { swap(&headers, &common) } else { headers = common }
            headers.append(idHeader(row: row.number, index: index))
            let key: [UInt8]? = record.key.isEmpty ? nil : Array(record.key.utf8)
            messages.append(
                OutgoingMessage(
                    message: ProducerMessage(topic: topic, key: key, value: record.jsonBytes(), headers: headers),
                    isDeadLetter: false))
        }
        return messages
    }

    /// The message of a row imported without a mapping: its object as it is, to the job's one topic.
    private func unmapped(_ row: ParsedRow, value: [UInt8], headers: consuming [KafkaHeader]) -> OutgoingMessage {
        guard let topic = run.job.topic(forEntity: "*") else {
            return run.deadLetter(
                row, raw: value, reason: "no output topic", errorClass: "configuration", headers: headers, sha: sha)
        }
        headers.append(idHeader(row: row.number, index: 0))
        return OutgoingMessage(
            message: ProducerMessage(topic: topic, value: value, headers: headers), isDeadLetter: false)
    }
}

/// Tracks acknowledgements per row and the prefix of rows that are fully done (the row checkpoint).
///
/// Rows are begun in order (`rowsDone + 1`, `+ 2`, ...), so the rows not done yet are kept in an array in row order
/// rather than in dictionaries; a row's offsets are usually one partition's (one message), kept without a dictionary.
final class AckTracker: DeliveryReceiver {
    /// A row begun and not yet done.
    private struct Row {
        var remaining: Int
        /// The offset after the row's highest acknowledged message in the first partition acknowledged ...
        var first: (TopicPartition, Int64)?
        /// ... and in the others.
        var more: [TopicPartition: Int64] = [:]
    }

    private struct State {
        var rowsDone: Int
        /// Rows `rowsDone + 1`, `rowsDone + 2`, ... from index `head` on.
        var rows: [Row] = []
        var head = 0
        /// The offsets after the done rows' messages, by partition; the latest partition's is kept in `latest` and
        /// folded in when another partition comes or a checkpoint is read (rows done one after another are usually
        /// one partition's: no hashing per row).
        var scanFrom: [TopicPartition: Int64]
        var latest: (TopicPartition, Int64)?
        var inFlight = 0
        var acknowledged = 0
        var failure: String?
    }

    /// What the import loop needs after each row, read under one lock.
    struct Status {
        var inFlight: Int
        var rowsDone: Int
        var failure: String?

        /// Throws the first delivery failure.
        func check(job: String) throws(BatchError) {
            if let failure {
                throw BatchError(
                    .kafka, "job \(job): delivery failed (\(failure)); the checkpoint stays before that row")
            }
        }
    }

    private let state: Mutex<State>

    init(rowsDone: Int, scanFrom: [TopicPartition: Int64]) {
        state = Mutex(State(rowsDone: rowsDone, scanFrom: scanFrom))
    }

    /// Registers the next row (`rowsDone` + rows begun + 1) with the number of messages it produced (0: nothing to
    /// wait for); returns the status with them counted in flight.
    @discardableResult
    func begin(row: Int, messages: Int) -> Status {
        state.withLock { s in
            precondition(row == s.rowsDone + s.rows.count - s.head + 1, "rows must be begun in order")
            s.rows.append(Row(remaining: messages))
            s.inFlight += messages
            Self.advance(&s)
            return Status(inFlight: s.inFlight, rowsDone: s.rowsDone, failure: s.failure)
        }
    }

    /// A delivery report for one message of the row `tag`.
    func delivered(tag row: Int, _ result: Result<DeliveryReport, KafkaError>) {
        acknowledge(row: row, result: result)
    }

    /// A delivery report for one message of `row`.
    func acknowledge(row: Int, result: Result<DeliveryReport, KafkaError>) {
        state.withLock { s in
            s.inFlight -= 1
            switch result {
            case .success(let report):
                s.acknowledged += 1
                let index = s.head + (row - s.rowsDone - 1)
                guard index >= s.head, index < s.rows.count else { return }
                let next = report.offset + 1
                let tp = report.topicPartition
                if case (let firstTP, let firstOffset)? = s.rows[index].first {
                    if firstTP == tp {
                        s.rows[index].first = (tp, max(firstOffset, next))
                    } else {
                        s.rows[index].more[tp] = max(s.rows[index].more[tp] ?? 0, next)
                    }
                } else {
                    s.rows[index].first = (tp, max(0, next))
                }
                s.rows[index].remaining -= 1
                Self.advance(&s)
            case .failure(let error):
                if s.failure == nil { s.failure = "row \(row): \(error)" }
            }
        }
    }

    private static func advance(_ s: inout State) {
        while s.head < s.rows.count, s.rows[s.head].remaining == 0 {
            if case (let tp, let offset)? = s.rows[s.head].first {
                if case (let latestTP, let latestOffset)? = s.latest, latestTP == tp {
                    s.latest = (tp, max(latestOffset, offset))
                } else {
                    foldLatest(&s)
                    s.latest = (tp, offset)
                }
            }
            for (tp, offset) in s.rows[s.head].more { s.scanFrom[tp] = max(s.scanFrom[tp] ?? 0, offset) }
            s.rows[s.head] = Row(remaining: 0)
            s.head += 1
            s.rowsDone += 1
        }
        if s.head >= 4096 && s.head * 2 >= s.rows.count {
            s.rows.removeFirst(s.head)
            s.head = 0
        }
    }

    private static func foldLatest(_ s: inout State) {
        guard case (let tp, let offset)? = s.latest else { return }
        s.scanFrom[tp] = max(s.scanFrom[tp] ?? 0, offset)
        s.latest = nil
    }

    var status: Status { state.withLock { Status(inFlight: $0.inFlight, rowsDone: $0.rowsDone, failure: $0.failure) } }
    var rowsDone: Int { state.withLock { $0.rowsDone } }
    /// The rows done and the offsets after their messages, read together: acknowledgements arrive on librdkafka's
    /// thread, and offsets read a moment after the row count could cover rows past it, which a resumed run would then
    /// not find in its scan and produce again.
    var checkpoint: (rowsDone: Int, scanFrom: [TopicPartition: Int64]) {
        state.withLock { s in
            Self.foldLatest(&s)
            return (s.rowsDone, s.scanFrom)
        }
    }
    var inFlight: Int { state.withLock { $0.inFlight } }
    var acknowledged: Int { state.withLock { $0.acknowledged } }

    /// Throws the first delivery failure.
    func check(job: String) throws(BatchError) {
        try status.check(job: job)
    }
}
