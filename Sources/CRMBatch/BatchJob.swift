import CRMCSV
import CRMSchedule
import CRMTransport
import CRMYAML
import Foundation

/// One batch job, read from a YAML file in the batch folder (`batch:` in the hub configuration, default `Batch`).
///
/// ```yaml
/// name: customers-export
/// direction: outbound                # outbound: topics → file; inbound: files → topics
/// schedule: {cron: "0 2 * * *", time_zone: Europe/London, catch_up: run-once,
///            blackout: [{start: "01:00", end: "03:00"}]}
/// topics: [crm.customer]             # outbound: the topics read
/// mapping: customer-to-erp-party     # optional: a mapping in the mappings folder
/// format: {type: csv, delimiter: ",", encoding: utf-8, columns: [code, name, {name: email, path: email_mechanisms.0.value}]}
/// drop: file:///srv/exports          # file:// (sftp:// when a factory for it is registered)
/// file_name: "customers-{window}.csv"
/// empty: header-only                 # outbound empty window: skip | header-only
/// ```
public struct BatchJob: Sendable {
    public enum Direction: String, Sendable, CaseIterable {
        case outbound
        case inbound
    }

    /// File format and layout.
    public enum Format: Sendable {
        case csv(CSVFormat)
        case jsonLines

        public var fileExtension: String {
            if case .csv = self { return "csv" }
            return "jsonl"
        }
    }

    /// CSV layout: delimiter, encoding, header row, columns.
    public struct CSVFormat: Sendable {
        public var options: CSVOptions
        /// Whether the first record is a header (inbound) / a header is written (outbound). Default true.
        public var header: Bool
        /// Outbound: the columns written, each a header name and a dotted path into the mapped record.
        /// Inbound: the expected header (the file is rejected when its header differs); empty means "take the file's".
        public var columns: [Column]

        public init(options: CSVOptions = CSVOptions(), header: Bool = true, columns: [Column] = []) {
            self.options = options
            self.header = header
            self.columns = columns
        }
    }

    /// A CSV column: its header name and the dotted path of its value (`address.city`, `emails.0`).
    public struct Column: Sendable, Equatable {
        public var name: String
        public var path: String

        public init(name: String, path: String) {
            self.name = name
            self.path = path
        }
    }

    /// What an outbound run with no message in its window does.
    public enum EmptyPolicy: String, Sendable {
        /// No file is written; the run is recorded as empty.
        case skip
        /// A file with only the header (CSV) or no lines (JSON lines) is published.
        case headerOnly = "header-only"
    }

    /// When an inbound file goes to `rejected/` (with `NAME.report.json`) instead of `archive/`.
    public struct RejectPolicy: Sendable {
        /// Reject when more rows than this are bad. Default: never (bad rows only go to the DLQ).
        public var maxBadRows: Int?
        /// Reject when more than this fraction of the rows are bad (0...1). Default: never.
        public var maxBadRatio: Double?
    }

    public var name: String
    public var direction: Direction
    /// When the job runs; nil means only on demand (`crmhub batch run`).
    public var schedule: Schedule?
    /// Outbound: topics read. Inbound: unused.
    public var topics: [String]
    /// Inbound: output entity (lowercased) → topic; `*` is the topic for every entity (a single `to:` topic).
    public var destinations: [String: String]
    public var mapping: String?
    public var format: Format
    /// The drop folder: a URL (`file:///path`, `sftp://...`), an absolute path, or a path relative to the folder of
    /// the job files (resolved when the jobs are loaded).
    public var drop: String
    /// Outbound: the file name, with `{job}`, `{window}` (e.g. `20261125T0200Z`) and `{date}` (`2026-11-25`).
    /// Inbound: the glob the files must match.
    public var filePattern: String
    public var emptyPolicy: EmptyPolicy
    public var reject: RejectPolicy
    /// Dead-letter topic for rows or messages that fail parsing or mapping. Default `batch.<name>.dlq`.
    public var deadLetterTopic: String
    /// Topic that gets a JSON notice when a run fails; nil for none.
    public var notifyTopic: String?
    /// Inbound: rows acknowledged between two checkpoints at most. Default 1,000.
    public var checkpointRows: Int
    /// Inbound: a file is taken only when its size and time did not change for this long (still being written).
    public var settleSeconds: Double
    /// Seconds between progress log lines. Default 5.
    public var progressSeconds: Double
    /// Where it was declared.
    public var location: SourceLocation

    /// The topic an entity produced by the mapping goes to.
    public func topic(forEntity entity: String) -> String? {
        destinations[entity.lowercased()] ?? destinations["*"]
    }
}

extension BatchJob {
    static let keys: Set<String> = [
        "name", "direction", "schedule", "topics", "topic", "to", "mapping", "format", "drop", "file_name", "pattern",
        "empty", "reject", "dead_letter_topic", "notify_topic", "checkpoint_rows", "settle_seconds", "progress_seconds",
    ]

    /// Reads one job definition.
    public init(_ value: YAMLValue) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(Self.keys)
        location = value.location
        let nameValue = try map.require("name")
        name = try nameValue.nonEmptyString()
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw nameValue.error("job name '\(name)' may only hold letters, digits, '-', '_' and '.'")
        }
        let directionValue = try map.require("direction")
        direction = Direction(rawValue: try directionValue.oneOf(Direction.allCases.map(\.rawValue)))!
        schedule = try map.optional("schedule").map { v throws(YAMLError) in try Schedule(yaml: v) }
        mapping = try map.optional("mapping")?.nonEmptyString()
        format =
            try map.optional("format").map { v throws(YAMLError) in try Self.format(v) }
            ?? .csv(CSVFormat(options: CSVOptions(), header: true, columns: []))
        drop = try map.require("drop").nonEmptyString()
        emptyPolicy = .headerOnly
        reject = RejectPolicy(maxBadRows: nil, maxBadRatio: nil)
        checkpointRows = try map.optional("checkpoint_rows")?.int(in: 1...1_000_000) ?? 1_000
        settleSeconds = try map.optional("settle_seconds")?.double() ?? 2
        progressSeconds = try map.optional("progress_seconds")?.double() ?? 5
        deadLetterTopic = try map.optional("dead_letter_topic")?.nonEmptyString() ?? "batch.\(name).dlq"
        notifyTopic = try map.optional("notify_topic")?.nonEmptyString()
        topics = []
        destinations = [:]
        switch direction {
        case .outbound:
            if let one = map.optional("topic") {
                topics = [try one.nonEmptyString()]
            } else {
                topics = try map.require("topics").sequence().map { item throws(YAMLError) in try item.nonEmptyString()
                }
            }
            guard !topics.isEmpty else { throw value.error("an outbound job needs at least one topic") }
            filePattern = try map.optional("file_name")?.nonEmptyString() ?? "{job}-{window}.\(format.fileExtension)"
            if let empty = map.optional("empty") {
                emptyPolicy = EmptyPolicy(rawValue: try empty.oneOf(["skip", "header-only"]))!
            }
            if case .csv(let csv) = format, csv.columns.isEmpty {
                throw value.error("an outbound CSV job needs format.columns (which fields go in which column)")
            }
        case .inbound:
            let to = try map.require("to")
            if case .mapping = to.node {
                for entry in try to.mapping().entries {
                    destinations[entry.key.lowercased()] = try entry.value.nonEmptyString()
                }
            } else {
                destinations["*"] = try to.nonEmptyString()
            }
            filePattern = try map.require("pattern").nonEmptyString()
            if let rejectValue = map.optional("reject") {
                let r = try rejectValue.mapping()
                try r.allowOnly(["max_bad_rows", "max_bad_ratio"])
                reject.maxBadRows = try r.optional("max_bad_rows")?.int(in: 0...Int.max)
                reject.maxBadRatio = try r.optional("max_bad_ratio")?.double()
            }
        }
    }

    static func format(_ value: YAMLValue) throws(YAMLError) -> Format {
        let map = try value.mapping()
        try map.allowOnly(["type", "delimiter", "encoding", "header", "columns", "line_ending"])
        let type = try map.optional("type")?.oneOf(["csv", "jsonl"]) ?? "csv"
        if type == "jsonl" { return .jsonLines }
        var options = CSVOptions()
        if let d = map.optional("delimiter") {
            let text = try d.string()
            let resolved = text == "\\t" || text == "tab" ? "\t" : text
            guard resolved.utf8.count == 1, let byte = resolved.utf8.first, byte != 0x22, byte != 0x0A, byte != 0x0D
            else {
                throw d.error("the delimiter must be one ASCII character other than a quote or newline (got '\(text)')")
            }
            options.delimiter = byte
        }
        if let e = map.optional("encoding") {
            let text = try e.string()
            guard let encoding = TextEncoding(name: text) else {
                throw e.error("unknown encoding '\(text)'; use utf-8, latin1 or windows-1252")
            }
            options.encoding = encoding
        }
        if let l = map.optional("line_ending") {
            options.lineEnding = try l.oneOf(["crlf", "lf"]) == "lf" ? "\n" : "\r\n"
        }
        let header = try map.optional("header")?.bool() ?? true
        var columns: [Column] = []
        for item in try map.optional("columns")?.sequence() ?? [] {
            if case .mapping = item.node {
                let c = try item.mapping()
                try c.allowOnly(["name", "path"])
                let name = try c.require("name").nonEmptyString()
                columns.append(Column(name: name, path: try c.optional("path")?.nonEmptyString() ?? name))
            } else {
                let name = try item.nonEmptyString()
                columns.append(Column(name: name, path: name))
            }
        }
        return .csv(CSVFormat(options: options, header: header, columns: columns))
    }

    /// Reads every `*.yaml` / `*.yml` job in `directory` (sorted by file name). A missing folder means no jobs.
    /// Collects every problem (file:line:column) before throwing.
    public static func loadAll(directory: String) throws(BatchConfigurationError) -> [BatchJob] {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: directory) else { return [] }
        var jobs: [BatchJob] = []
        var problems: [YAMLError] = []
        var seen: [String: SourceLocation] = [:]
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            do {
                var job = try BatchJob(try YAMLDocument.load(path: path))
                job.drop = Self.resolvedDrop(job.drop, relativeTo: directory)
                if let first = seen[job.name] {
                    problems.append(
                        YAMLError(
                            "duplicate batch job name '\(job.name)' (first declared at \(first))", at: job.location))
                    continue
                }
                seen[job.name] = job.location
                jobs.append(job)
            } catch {
                problems.append(error)
            }
        }
        if !problems.isEmpty { throw BatchConfigurationError(problems: problems) }
        return jobs
    }

    /// A drop written as a relative path (no URL scheme, no leading `/`) names a local folder relative to the folder
    /// of the job files (`../../data/imports`), resolved lexically; URLs and absolute paths are kept as written.
    static func resolvedDrop(_ drop: String, relativeTo directory: String) -> String {
        guard !drop.hasPrefix("/"), !drop.contains("://") else { return drop }
        return URL(fileURLWithPath: directory).appendingPathComponent(drop).standardized.path
    }
}

/// Problems found in the batch job folder, each with file:line:column.
public struct BatchConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [YAMLError]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Opens a job's drop folder from its URL. `file://` is built in; register more schemes (e.g. `sftp`) in
/// ``schemes`` — each maps a parsed URL to a ``FileDrop``.
public struct FileDropFactory: Sendable {
    /// Scheme (lowercase) → opener.
    public var schemes: [String: @Sendable (URL) throws -> any FileDrop]

    /// A factory that knows `file://` and `sftp://user@host:port/dir?private_key=PATH&host_key_sha256=SHA256:...`
    /// (key authentication only; the host key is pinned by its SHA-256 fingerprint, as `ssh-keygen -lf -E sha256`
    /// prints it).
    public init() {
        schemes = [
            "file": { url in LocalFileDrop(directory: URL(fileURLWithPath: url.path)) },
            "sftp": { url in try Self.sftp(url) },
        ]
    }

    static func sftp(_ url: URL) throws -> any FileDrop {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else {
            throw BatchError(.configuration, "'\(url.absoluteString)' is not an sftp:// URL")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        guard let key = query["private_key"], !key.isEmpty else {
            throw BatchError(.configuration, "an sftp:// drop needs ?private_key=PATH (an ed25519 key file)")
        }
        components.query = nil
        let configuration = try SFTPConfiguration(
            url: components.string ?? url.absoluteString, privateKey: key, hostKeySHA256: query["host_key_sha256"],
            insecureSkipHostKeyCheck: query["insecure_skip_host_key_check"] == "true")
        return try SFTPFileDrop(configuration)
    }

    /// Opens the drop folder `text` (a URL, or a plain absolute path meaning a local folder).
    public func open(_ text: String) throws(BatchError) -> any FileDrop {
        if text.hasPrefix("/") { return LocalFileDrop(directory: URL(fileURLWithPath: text)) }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else {
            throw BatchError(.configuration, "drop '\(text)' is not a URL (file:///path or sftp://host/path)")
        }
        guard let opener = schemes[scheme] else {
            throw BatchError(
                .configuration,
                "drop scheme '\(scheme)' is not supported here (known: \(schemes.keys.sorted().joined(separator: ", ")))"
            )
        }
        do {
            return try opener(url)
        } catch let error as BatchError {
            throw error
        } catch {
            throw BatchError(
                .configuration, "cannot open drop '\(url.scheme ?? "")://\(url.host ?? "")\(url.path)': \(error)")
        }
    }
}
