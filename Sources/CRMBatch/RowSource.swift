import CRMCSV
import CRMModel

/// One data row of an inbound file, parsed into a JSON object (CSV: header name → field; dotted names nest).
struct ParsedRow: Sendable {
    enum Content: Sendable {
        case value(JSONValue)
        /// A CSV row: its fields' texts, one per header column, and the object they stand for under the header.
        case columns(CSVTextRecord, ColumnObject)
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
        case .columns(let record, let rows): rows.value(record.fields)
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
    /// The object a CSV file's rows stand for, made from its header by ``open()``; nil for other formats.
    private(set) var rowObject: ColumnObject?
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
            rowObject = ColumnObject(paths: header)
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
                guard let rowObject else {
                    return ParsedRow(number: number, line: record.line, content: .value(.object([])))
                }
                return ParsedRow(number: number, line: record.line, content: .columns(record, rowObject))
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

extension ColumnObject {
    /// The JSON of the object `record` stands for, written straight from its text.
    func jsonBytes(_ record: CSVTextRecord) -> [UInt8] {
        jsonBytes(text: record.text, ends: record.ends)
    }
}
