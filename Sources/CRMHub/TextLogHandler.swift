import CRMRedaction
import Foundation
import Logging

/// A swift-log handler that writes the `text` log format, one line per event as swift-log's `StreamLogHandler`
/// lays it out (`2026-11-25T02:00:00+0000 info crmhub: key=value message`), with personal data redacted by the same
/// ``RedactionPolicy`` as ``JSONLogHandler``: metadata under a personal key is fingerprinted whole, personal data
/// recognisable by shape in the message and in every other metadata value where it stands.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let redaction: RedactionPolicy
    private let output: LogOutput

    /// A handler for `label` that logs at `level` and above, redacts with `redaction` and writes to `output`
    /// (default: standard error).
    public init(
        label: String, level: Logger.Level, redaction: RedactionPolicy = .installed, output: LogOutput = .standardError
    ) {
        self.label = label
        self.logLevel = level
        self.redaction = redaction
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { key, value in
            "\(key)=\(redaction.redact(value: value.description, key: key))"
        }
        let timestamp = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false))
        var line = "\(timestamp) \(event.level) \(label):"
        if !fields.isEmpty { line += " " + fields.joined(separator: " ") }
        line += " " + redaction.redact(event.message.description)
        output.write(line)
    }
}
