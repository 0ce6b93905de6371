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

    /// The header row of a CSV file, as a table without rows.
    public static func header(ofFile path: String) throws(MasterDataError) -> CSVTable {
        let reader: CSVReader
        do { reader = try CSVReader(path: path) } catch { throw MasterDataError(.input, error.description) }
        switch reader.next() {
        case .success(let record)?: return CSVTable(header: record.fields, rows: [])
        case .failure(let error)?: throw MasterDataError(.input, error.description)
        case nil: throw MasterDataError(.input, "empty CSV: no header row")
        }
    }

    /// Quotes a field when it needs it (checked on the bytes: "\r\n" is one `Character`, equal to neither).
    public static func escape(_ s: String) -> String {
        guard s.utf8.contains(where: needsQuoting) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Whether a byte makes a field need quoting: a comma, a double quote, CR or LF.
    static func needsQuoting(_ b: UInt8) -> Bool { b == 0x2C || b == 0x22 || b == 0x0A || b == 0x0D }

    /// Canonical field names `CustomerRecord` fills from CSV columns. `house_number` is put before `street`
    /// (for files that keep the number in a column of its own).
    public static let canonicalFields = [
        "system", "given_name", "family_name", "email", "phone", "house_number", "street", "street2", "city",
        "postcode", "country", "date_of_birth", "updated_at",
    ]

    /// Header names recognised for each canonical field when `columns` does not name one, compared without case,
    /// spaces, `_` or `-` (`First Name`, `first_name` and `firstname` are one). The canonical name itself comes
    /// first.
    public static let knownHeaders: [String: [String]] = [
        "system": ["system", "source", "sourcesystem"],
        "given_name": ["givenname", "firstname", "forename", "first", "fname", "given"],
        "family_name": ["familyname", "lastname", "surname", "last", "lname", "family"],
        "email": ["email", "emailaddress", "mail", "email1"],
        "phone": ["phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone", "phone1"],
        "house_number": [],  // only when named: files corrupt a separate number column independently
        "street": ["street", "streetaddress", "address", "address1", "addressline1", "addr1"],
        "street2": ["street2", "address2", "addressline2", "addr2"],
        "city": ["city", "town", "suburb", "locality"],
        "postcode": ["postcode", "postalcode", "zip", "zipcode", "plz"],
        "country": ["country", "countrycode"],
        "date_of_birth": ["dateofbirth", "dob", "birthdate", "birthday"],
        "updated_at": ["updatedat", "updated", "lastmodified"],
    ]

    /// Builds records: the first column is the record id; `columns` maps canonical field → header name
    /// (unmapped canonical fields use a header from ``knownHeaders`` if present); other columns are ignored.
    public func records(columns: [String: String], defaultSystem: String) throws(MasterDataError) -> [CustomerRecord] {
        let index = try columnIndex(columns: columns)
        return rows.map { Self.record($0, index, defaultSystem: defaultSystem) }
    }

    /// Canonical field → header name actually used: `columns` (canonical field → header name) first, then the first
    /// recognised header (``knownHeaders``). The first column, the record id, is never a field.
    public func columnNames(columns: [String: String]) throws(MasterDataError) -> [String: String] {
        try columnIndex(columns: columns).mapValues { header[$0] }
    }

    /// Canonical field → column number, after checking `columns` (canonical field → header name).
    func columnIndex(columns: [String: String]) throws(MasterDataError) -> [String: Int] {
        for (field, col) in columns {
            guard Self.canonicalFields.contains(field) else {
                throw MasterDataError(
                    .input, "unknown field '\(field)'; known: \(Self.canonicalFields.joined(separator: ", "))")
            }
            guard header.dropFirst().contains(col) else {
                throw MasterDataError(.input, "column '\(col)' (for \(field)) not in the header")
            }
        }
        func key(_ name: String) -> String { String(name.lowercased().filter { $0.isLetter || $0.isNumber }) }
        let keys = header.map(key)
        let mapped = Set(columns.values)
        var index: [String: Int] = [:]
        for f in Self.canonicalFields {
            if let c = columns[f] {
                index[f] = header.dropFirst().firstIndex(of: c)
            } else if let i = Self.knownHeaders[f, default: []].lazy.compactMap({ alias in
                keys.indices.dropFirst().first { keys[$0] == alias && !mapped.contains(header[$0]) }
            }).first {
                index[f] = i
            }
        }
        return index
    }

    /// The columns of the canonical fields, looked up once per file (not per row).
    struct ColumnMap {
        var system, given, family, email, phone, houseNumber, street, street2, city, postcode, country, dob,
            updated: Int?

        init(_ index: [String: Int]) {
            system = index["system"]
            given = index["given_name"]
            family = index["family_name"]
            email = index["email"]
            phone = index["phone"]
            houseNumber = index["house_number"]
            street = index["street"]
            street2 = index["street2"]
            city = index["city"]
            postcode = index["postcode"]
            country = index["country"]
            dob = index["date_of_birth"]
            updated = index["updated_at"]
        }
    }

    /// One row as a record.
    static func record(_ row: [String], _ index: [String: Int], defaultSystem: String) -> CustomerRecord {
        record(row, ColumnMap(index), defaultSystem: defaultSystem)
    }

    /// One row as a record, with the columns looked up once.
    static func record(_ row: [String], _ c: ColumnMap, defaultSystem: String) -> CustomerRecord {
        func v(_ column: Int?) -> String? {
            guard let i = column, i < row.count, !row[i].isEmpty else { return nil }
            return row[i]
        }
        func street() -> String? {
            guard let street = v(c.street) else { return nil }
            return v(c.houseNumber).map { $0 + " " + street } ?? street
        }
        return CustomerRecord(
            system: v(c.system) ?? defaultSystem, externalId: row.first ?? "", givenName: v(c.given),
            familyName: v(c.family), email: v(c.email), phone: v(c.phone), street: street(), street2: v(c.street2),
            city: v(c.city), postcode: v(c.postcode), country: v(c.country), dateOfBirth: v(c.dob),
            updatedAt: v(c.updated).flatMap { Int64($0) })
    }
}
