// CRMMasterData — RFC 4180 CSV reading and writing for bulk resolve.

/// A CSV file read whole: a header row and data rows (RFC 4180: quoted fields, doubled quotes, CRLF or LF).
public struct CSVTable: Sendable {
    public var header: [String]
    public var rows: [[String]]

    /// Parses CSV bytes. Throws on an unterminated quote.
    public static func parse(_ bytes: [UInt8]) throws(MasterDataError) -> CSVTable {
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var i = 0, line = 1
        var inQuotes = false, wasQuoted = false
        let n = bytes.count
        @inline(__always) func endField() {
            row.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            wasQuoted = false
        }
        while i < n {
            let b = bytes[i]
            if inQuotes {
                if b == 0x22 {
                    if i + 1 < n && bytes[i + 1] == 0x22 {
                        field.append(0x22)
                        i += 1
                    } else { inQuotes = false }
                } else {
                    if b == 0x0A { line += 1 }
                    field.append(b)
                }
            } else {
                switch b {
                case 0x22 where field.isEmpty && !wasQuoted:
                    inQuotes = true
                    wasQuoted = true
                case 0x2C: endField()
                case 0x0D: break
                case 0x0A:
                    endField()
                    if !(row.count == 1 && row[0].isEmpty) { rows.append(row) }
                    row.removeAll(keepingCapacity: true)
                    line += 1
                default: field.append(b)
                }
            }
            i += 1
        }
        if inQuotes { throw MasterDataError(.input, "unterminated quoted field at line \(line)") }
        if !field.isEmpty || !row.isEmpty {
            endField()
            rows.append(row)
        }
        guard !rows.isEmpty else { throw MasterDataError(.input, "empty CSV: no header row") }
        return CSVTable(header: rows[0], rows: Array(rows.dropFirst()))
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
        for (field, col) in columns {
            guard Self.canonicalFields.contains(field) else {
                throw MasterDataError(.input, "unknown field '\(field)'; known: \(Self.canonicalFields.joined(separator: ", "))")
            }
            guard header.contains(col) else { throw MasterDataError(.input, "column '\(col)' (for \(field)) not in the header") }
        }
        var index: [String: Int] = [:]
        for f in Self.canonicalFields {
            if let c = columns[f] ?? (header.contains(f) ? f : nil), let i = header.firstIndex(of: c) { index[f] = i }
        }
        return rows.map { row in
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
}

import Foundation
