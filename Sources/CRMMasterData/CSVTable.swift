// CRMMasterData — CSV tables for bulk resolve.

import CRMCSV
import Foundation

/// A CSV file read whole: a header row and data rows (RFC 4180: quoted fields, doubled quotes, CRLF or LF).
public struct CSVTable: Sendable {
    public var header: [String]
    public var rows: [[String]]

    /// Parses CSV bytes (read by ``CSVReader``). Throws on the first record that cannot be read, naming its line.
    public static func parse(_ bytes: [UInt8]) throws(MasterDataError) -> CSVTable {
        let reader = CSVReader(bytes: bytes)
        var rows: [[String]] = []
        while let next = reader.next() {
            switch next {
            case .success(let record): rows.append(record.fields)
            case .failure(let error): throw MasterDataError(.input, error.description)
            }
        }
        guard let header = rows.first else { throw MasterDataError(.input, "empty CSV: no header row") }
        return CSVTable(header: header, rows: Array(rows.dropFirst()))
    }

    /// Quotes a field when it needs it.
    public static func escape(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Canonical field names `CustomerRecord` fills from CSV columns.
    public static let canonicalFields = [
        "system", "given_name", "family_name", "email", "phone", "street", "city", "postcode", "country",
        "date_of_birth", "updated_at",
    ]

    /// Builds records: the first column is the record id; `columns` maps canonical field → header name
    /// (unmapped canonical fields use a header of the same name if present); other columns are ignored.
    public func records(columns: [String: String], defaultSystem: String) throws(MasterDataError) -> [CustomerRecord] {
        let index = try columnIndex(columns: columns)
        return rows.map { Self.record($0, index, defaultSystem: defaultSystem) }
    }

    /// Canonical field → column number, after checking `columns` (canonical field → header name).
    func columnIndex(columns: [String: String]) throws(MasterDataError) -> [String: Int] {
        for (field, col) in columns {
            guard Self.canonicalFields.contains(field) else {
                throw MasterDataError(
                    .input, "unknown field '\(field)'; known: \(Self.canonicalFields.joined(separator: ", "))")
            }
            guard header.contains(col) else {
                throw MasterDataError(.input, "column '\(col)' (for \(field)) not in the header")
            }
        }
        var index: [String: Int] = [:]
        for f in Self.canonicalFields {
            if let c = columns[f] ?? (header.contains(f) ? f : nil), let i = header.firstIndex(of: c) { index[f] = i }
        }
        return index
    }

    /// One row as a record.
    static func record(_ row: [String], _ index: [String: Int], defaultSystem: String) -> CustomerRecord {
        func v(_ f: String) -> String? {
            guard let i = index[f], i < row.count, !row[i].isEmpty else { return nil }
            return row[i]
        }
        return CustomerRecord(
            system: v("system") ?? defaultSystem, externalId: row.first ?? "", givenName: v("given_name"),
            familyName: v("family_name"), email: v("email"), phone: v("phone"), street: v("street"), city: v("city"),
            postcode: v("postcode"), country: v("country"), dateOfBirth: v("date_of_birth"),
            updatedAt: v("updated_at").flatMap { Int64($0) })
    }
}
