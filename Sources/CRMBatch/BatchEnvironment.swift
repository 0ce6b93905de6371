import CRMDelivery
import CRMKafka
import CRMMapping
import CRMModel
import Foundation
import Logging
import Metrics

/// What batch runs need from the hub: Kafka, the mappings, the job state, drop folders, a scratch folder.
public struct BatchEnvironment: Sendable {
    /// Kafka client settings (brokers, client id, extra properties).
    public var kafka: KafkaClientConfiguration
    /// The compiled mappings folder (the daemon's, which SIGHUP reloads); nil when no job uses a mapping.
    public var mappingRegistry: MappingRegistry?
    /// The job state database.
    public var state: BatchStateStore
    /// Opens drop folders by URL scheme.
    public var drops: FileDropFactory
    /// Local folder for staging files (outbound files being written, inbound files fetched).
    public var workDirectory: URL
    public var logger: Logger
    /// Called with each progress line (the CLI prints them on stderr); they are logged as well.
    public var onProgress: (@Sendable (String) -> Void)?
    /// Messages in flight (produced, not yet acknowledged) at most, inbound. Default 10,000.
    public var maxInFlight: Int = 10_000

    public init(
        kafka: KafkaClientConfiguration, mappings: MappingRegistry?, state: BatchStateStore,
        drops: FileDropFactory = FileDropFactory(),
        workDirectory: URL, logger: Logger, onProgress: (@Sendable (String) -> Void)? = nil
    ) {
        self.kafka = kafka
        mappingRegistry = mappings
        self.state = state
        self.drops = drops
        self.workDirectory = workDirectory
        self.logger = logger
        self.onProgress = onProgress
    }

    /// The mappings as compiled now: a run takes them once at its start.
    var mappings: MappingLibrary? { mappingRegistry?.current }

    func mapping(for job: BatchJob) throws(BatchError) -> CompiledMapping? {
        guard let name = job.mapping else { return nil }
        guard let mapping = mappings?.mapping(named: name) else {
            throw BatchError(.configuration, "job \(job.name): mapping '\(name)' is not in the mappings folder")
        }
        return mapping
    }

    var mappingContext: MappingContext { mappings?.context ?? MappingContext() }
}

/// Header names batch runs add to the messages they produce (next to `crm-id`).
public enum BatchHeader {
    /// The job that produced the message.
    public static let job = "crm-batch-job"
    /// The inbound file's name.
    public static let file = "crm-batch-file"
    /// SHA-256 of the inbound file's content.
    public static let fileSHA256 = "crm-batch-file-sha256"
    /// The data row (1-based, header excluded).
    public static let row = "crm-batch-row"
    /// The physical line the row starts on (1-based).
    public static let line = "crm-batch-line"
}

/// Periodic progress lines: rows done, rows/s, ETA when the size is known.
struct ProgressReporter {
    let job: String
    let interval: TimeInterval
    let logger: Logger
    let sink: (@Sendable (String) -> Void)?
    let started = Date()
    private var last = Date()

    init(job: String, interval: TimeInterval, logger: Logger, sink: (@Sendable (String) -> Void)?) {
        self.job = job
        self.interval = interval
        self.logger = logger
        self.sink = sink
    }

    /// Emits a line if `interval` passed since the last one (or `force`). Called once per row: `note` is built only
    /// for a line that is emitted.
    mutating func tick(
        rows: Int, bytes: Int64? = nil, totalBytes: Int64? = nil, note: @autoclosure () -> String = "",
        force: Bool = false
    ) {
        let now = Date()
        guard force || now.timeIntervalSince(last) >= interval else { return }
        last = now
        let elapsed = max(now.timeIntervalSince(started), 0.001)
        let rate = Double(rows) / elapsed
        var text = "batch \(job) progress: \(rows) rows, \(Int(rate)) rows/s"
        if let bytes, let totalBytes, totalBytes > 0, bytes > 0 {
            let fraction = Double(bytes) / Double(totalBytes)
            let remaining = elapsed / fraction - elapsed
            text += String(format: ", %.0f%%, ETA %.0f s", fraction * 100, max(remaining, 0))
        }
        let note = note()
        if !note.isEmpty { text += ", \(note)" }
        logger.info("\(text)")
        sink?(text)
    }
}

/// swift-metrics instruments for batch runs.
struct BatchMetrics: Sendable {
    let read: Counter
    let produced: Counter
    let rejected: Counter
    let runs: @Sendable (BatchRunReport.Status) -> Counter
    let duration: Gauge
    let lastSuccess: Gauge

    init(job: String, direction: String) {
        let dims = [("job", job), ("direction", direction)]
        read = Counter(label: "crmhub_batch_rows_read_total", dimensions: dims)
        produced = Counter(label: "crmhub_batch_rows_produced_total", dimensions: dims)
        rejected = Counter(label: "crmhub_batch_rows_rejected_total", dimensions: dims)
        runs = { status in Counter(label: "crmhub_batch_runs_total", dimensions: dims + [("status", status.rawValue)]) }
        duration = Gauge(label: "crmhub_batch_last_run_duration_seconds", dimensions: dims)
        lastSuccess = Gauge(label: "crmhub_batch_last_success_timestamp_seconds", dimensions: dims)
    }
}

extension JSONValue {
    /// The value at a dotted path (`address.city`, `emails.0`); nil when missing.
    func value(atPath path: String) -> JSONValue? {
        var current: JSONValue = self
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            let key = String(part)
            if let item = current[key] {
                current = item
            } else if let index = Int(key), let item = current[index] {
                current = item
            } else {
                return nil
            }
        }
        return current
    }

    /// A CSV cell: scalars as text, null as empty, arrays of scalars joined by `|`, objects as JSON.
    var cellText: String {
        switch self {
        case .null: return ""
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s): return s
        case .array(let items):
            if items.allSatisfy({
                if case .array = $0 { return false }
                if case .object = $0 { return false }
                return true
            }) {
                return items.map(\.cellText).joined(separator: "|")
            }
            return jsonText
        case .object: return jsonText
        }
    }
}

/// Formats a window time as `20261125T0200Z` (UTC, minute precision).
public func batchWindowName(_ date: Date) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
    return String(format: "%04d%02d%02dT%02d%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
}

/// The outbound file name for `job` and `window`: `{job}`, `{window}`, `{date}` substituted.
public func batchFileName(pattern: String, job: String, window: Date) -> String {
    let name = batchWindowName(window)
    let date = "\(name.prefix(4))-\(name.dropFirst(4).prefix(2))-\(name.dropFirst(6).prefix(2))"
    return pattern.replacingOccurrences(of: "{job}", with: job).replacingOccurrences(of: "{window}", with: name)
        .replacingOccurrences(of: "{date}", with: date)
}

/// SHA-256 of a local file, read in chunks.
func fileSHA256(_ path: String) throws(BatchError) -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw BatchError(.file, "cannot open \(path)") }
    defer { try? handle.close() }
    var digest = SHA256Digest()
    while true {
        let data: Data?
        do { data = try handle.read(upToCount: 1 << 20) } catch {
            throw BatchError(.file, "cannot read \(path): \(error)")
        }
        guard let data, !data.isEmpty else { break }
        data.withUnsafeBytes { digest.update(buffer: $0) }
    }
    return digest.finalizeHex()
}

/// A local file written through a buffer, hashing what it writes.
final class BufferedFileWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private(set) var digest = SHA256Digest()
    let path: String

    init(path: String) throws(BatchError) {
        self.path = path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else { throw BatchError(.file, "cannot create \(path)") }
        self.handle = handle
        buffer.reserveCapacity(1 << 18)
    }

    func write(_ bytes: [UInt8]) throws(BatchError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 18 { try flush() }
    }

    func flush() throws(BatchError) {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { digest.update(buffer: $0) }
        do { try handle.write(contentsOf: buffer) } catch { throw BatchError(.file, "cannot write \(path): \(error)") }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and closes; returns the SHA-256.
    func close() throws(BatchError) -> String {
        try flush()
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw BatchError(.file, "cannot close \(path): \(error)")
        }
        return digest.finalizeHex()
    }
}
