import CRMCSV
import CRMModel

/// One data row of an inbound file, parsed into a JSON object (CSV: header name → field; dotted names nest).
struct ParsedRow: Sendable {
    enum Content: Sendable {
        case value(JSONValue)
        /// A CSV row: its fields' texts, one per header column, and the layout that makes them the row's object.
        case columns(CSVTextRecord, RowTemplate)
        /// The row could not be read: why, the error class for the DLQ, and the raw bytes kept for the DLQ.
        case failure(reason: String, errorClass: String, raw: [UInt8])
    }

    /// 1-based data row number (header excluded).
    var number: Int
    /// 1-based physical line the row starts on.
    var line: Int
    var content: Content

    /// The row's object; nil for a row that could not be read.
    var value: JSONValue? {
        switch content {
        case .value(let value): value
        case .columns(let record, let template): template.value(record.fields)
        case .failure: nil
        }
    }
}

/// Reads an inbound file row by row in the job's format.
struct RowSource {
    let job: BatchJob
    let path: String
    private var csv: CSVReader?
    private var lines: JSONLinesReader?
    private var header: [[String]] = []
    /// The layout of a CSV file's rows, made from its header by ``open()``; nil for other formats.
    private(set) var template: RowTemplate?
    private var number = 0

    init(job: BatchJob, path: String) {
        self.job = job
        self.path = path
    }

    var bytesRead: Int64 { csv?.bytesRead ?? lines?.bytesRead ?? 0 }

    /// Opens the file and reads the CSV header; throws `.input` when the header does not match the job's columns.
    mutating func open() throws(BatchError) {
        switch job.format {
        case .jsonLines:
            lines = try JSONLinesReader(path: path)
        case .csv(let format):
            let reader: CSVReader
            do {
                reader = try CSVReader(path: path, options: format.options)
            } catch {
                throw BatchError(.file, error.description)
            }
            csv = reader
            var names = format.columns.map(\.name)
            if format.header {
                guard let first = reader.next() else {
                    throw BatchError(.input, "the file is empty (no header)")
                }
                guard case .success(let record) = first else {
                    throw BatchError(.input, "the header cannot be read: \(String(describing: first))")
                }
                let found = record.fields.map { $0.trimmingCharacters(in: .whitespaces) }
                if !names.isEmpty && found != names {
                    throw BatchError(
                        .input,
                        "the header does not match the job's columns: expected \(names.joined(separator: ",")), found \(found.joined(separator: ","))"
                            + (found.count == 1 && names.count > 1 ? " (wrong delimiter?)" : ""))
                }
                names = found
            } else if names.isEmpty {
                throw BatchError(.configuration, "job \(job.name): a CSV without header needs format.columns")
            }
            header = names.map { $0.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
            template = RowTemplate(header: header)
        }
    }

    mutating func next() -> ParsedRow? {
        if let csv {
            guard let result = csv.nextText() else { return nil }
            number += 1
            switch result {
            case .failure(let error):
                return ParsedRow(
                    number: number, line: error.line,
                    content: .failure(reason: error.message, errorClass: "csv", raw: []))
            case .success(let record):
                guard record.fieldCount == header.count else {
                    let raw = CSVWriter(options: csv.options).encode(record.fields)
                    return ParsedRow(
                        number: number, line: record.line,
                        content: .failure(
                            reason: "\(record.fieldCount) fields, the header has \(header.count)", errorClass: "csv",
                            raw: raw))
                }
                guard let template else {
                    return ParsedRow(number: number, line: record.line, content: .value(.object([])))
                }
                return ParsedRow(number: number, line: record.line, content: .columns(record, template))
            }
        }
        if let lines {
            guard let line = lines.next() else { return nil }
            number += 1
            do {
                let value = try JSONValue.parse(line.bytes)
                return ParsedRow(number: number, line: line.line, content: .value(value))
            } catch {
                return ParsedRow(
                    number: number, line: line.line,
                    content: .failure(reason: error.description, errorClass: "json", raw: line.bytes))
            }
        }
        return nil
    }
}

/// Where each CSV column goes in a row's object, worked out once from the header: the object
/// `JSONValue.set(path:to:)` builds when it sets every column's dotted path in turn (dotted names nest, a later column
/// with the same path replaces the earlier one's value in its place). Filling it in per row gives the same object
/// without searching and copying member arrays for every field.
final class RowTemplate: Sendable {
    private enum Node {
        case field(Int)
        case object([(String, Node)])
    }

    private let root: [(String, Node)]
    /// Each column's path (its header name split at the dots).
    let paths: [[String]]
    /// The same layout as JSON with the fields to fill in: a row's message without its object.
    private let encoding: JSONTemplate?
    /// The names of a row object's top-level members, in order (each once).
    let rootNames: [String]

    /// The layout for `header` (each column's path); nil when it is not an object (cannot happen for non-empty paths).
    init?(header: [[String]]) {
        paths = header
        var probe = JSONValue.object([])
        for (index, path) in header.enumerated() {
            probe.set(path: path[...], to: .number(String(index)))
        }
        encoding = JSONTemplate(probe)
        func node(_ value: JSONValue) -> Node? {
            switch value {
            case .number(let text): return Int(text).map(Node.field)
            case .object(let members):
                var nodes: [(String, Node)] = []
                nodes.reserveCapacity(members.count)
                for (name, member) in members {
                    guard let child = node(member) else { return nil }
                    nodes.append((name, child))
                }
                return .object(nodes)
            default: return nil
            }
        }
        guard case .object(let members)? = node(probe) else { return nil }
        root = members
        rootNames = members.map(\.0)
    }

    /// The row's object for `fields` (one per header column).
    func value(_ fields: [String]) -> JSONValue {
        .object(Self.members(root, fields))
    }

    /// `value(record.fields).jsonBytes()`, written straight from the record's text.
    func jsonBytes(_ record: CSVTextRecord) -> [UInt8] {
        guard let encoding else { return value(record.fields).jsonBytes() }
        var bytes: [UInt8] = []
        encoding.encode(text: record.text, ends: record.ends, into: &bytes)
        return bytes
    }

    private static func members(_ nodes: [(String, Node)], _ fields: [String]) -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        out.reserveCapacity(nodes.count)
        for (name, node) in nodes {
            switch node {
            case .field(let index): out.append((name, .string(fields[index])))
            case .object(let children): out.append((name, .object(members(children, fields))))
            }
        }
        return out
    }
}
