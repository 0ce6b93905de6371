import CRMCSV
import Foundation

/// The territory table of a lead-assignment rule: which owners serve which countries and postal areas.
///
/// A CSV file with a header row `territory,country,postal_prefix,owners` (a line whose first field starts with `#` is
/// a comment). `country` is an ISO 3166 code or `*` for any; `postal_prefix` lists prefixes separated by `|` (empty:
/// the whole country); `owners` lists owner ids separated by `|`. Rows of the same territory add owners and prefixes.
///
/// ```
/// territory,country,postal_prefix,owners
/// london,GB,E|EC|N|NW|SE|SW|W|WC,alice|bob
/// uk,GB,,carol
/// dach,DE|AT|CH,,dieter|eva
/// rest,*,,queue
/// ```
///
/// A lead goes to the most specific matching row: the longest postal prefix, then an exact country over `*`, then
/// the earlier row.
public struct TerritoryTable: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        public var territory: String
        /// Upper-case ISO codes; empty means any country.
        public var countries: Set<String>
        /// Upper-case prefixes without spaces; empty means the whole country.
        public var postalPrefixes: [String]
        public var owners: [String]
        /// The line in the file, for messages.
        public var line: Int
    }

    public let rows: [Row]

    /// Owners of each territory, in table order, without repeats.
    public func owners(of territory: String) -> [String] {
        var seen = Set<String>()
        return rows.filter { $0.territory == territory }.flatMap(\.owners).filter { seen.insert($0).inserted }
    }

    /// The territory of a lead in `country` with `postalCode`, or nil when no row covers it.
    public func territory(country: String?, postalCode: String?) -> String? {
        let country = country?.trimmingCharacters(in: .whitespaces).uppercased() ?? ""
        let postal = Self.normalise(postalCode ?? "")
        var best: (row: Row, score: Int)?
        for row in rows {
            let countryScore: Int
            if row.countries.isEmpty {
                countryScore = 0
            } else if row.countries.contains(country) {
                countryScore = 1
            } else {
                continue
            }
            let prefixLength: Int
            if row.postalPrefixes.isEmpty {
                prefixLength = 0
            } else if let longest = row.postalPrefixes.filter({ postal.hasPrefix($0) }).map(\.count).max() {
                prefixLength = longest
            } else {
                continue
            }
            let score = prefixLength * 2 + countryScore
            if best == nil || score > best!.score { best = (row, score) }
        }
        return best?.row.territory
    }

    static func normalise(_ postalCode: String) -> String {
        postalCode.uppercased().filter { !$0.isWhitespace && $0 != "-" }
    }

    /// Parses the table (RFC 4180 CSV; a record whose first field starts with `#` is a comment); problems name the line.
    public init(csv text: String, file: String = "territories.csv") throws(TerritoryTableError) {
        var rows: [Row] = []
        var header = true
        let reader = CSVReader(bytes: Array(text.utf8))
        while let next = reader.next() {
            let record: CSVRecord
            switch next {
            case .success(let read): record = read
            case .failure(let error): throw TerritoryTableError(file: file, line: error.line, reason: error.message)
            }
            let number = record.line
            let columns = record.fields.map { $0.trimmingCharacters(in: .whitespaces) }
            if columns.first?.hasPrefix("#") == true { continue }
            if header {
                guard columns.map({ $0.lowercased() }) == ["territory", "country", "postal_prefix", "owners"] else {
                    throw TerritoryTableError(
                        file: file, line: number, reason: "the header must be territory,country,postal_prefix,owners")
                }
                header = false
                continue
            }
            guard columns.count == 4 else {
                throw TerritoryTableError(
                    file: file, line: number, reason: "expected 4 columns, found \(columns.count)")
            }
            guard !columns[0].isEmpty else {
                throw TerritoryTableError(file: file, line: number, reason: "the territory is empty")
            }
            let countries = columns[1].split(separator: "|").map {
                $0.trimmingCharacters(in: .whitespaces).uppercased()
            }
            guard !countries.isEmpty else {
                throw TerritoryTableError(file: file, line: number, reason: "the country is empty (use * for any)")
            }
            for country in countries
            where country != "*" && !(country.count == 2 && country.allSatisfy { $0.isASCII && $0.isLetter }) {
                throw TerritoryTableError(
                    file: file, line: number, reason: "'\(country)' is not an ISO 3166 country code or *")
            }
            let owners = columns[3].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            guard !owners.isEmpty else {
                throw TerritoryTableError(file: file, line: number, reason: "territory '\(columns[0])' has no owners")
            }
            rows.append(
                Row(
                    territory: columns[0], countries: countries.contains("*") ? [] : Set(countries),
                    postalPrefixes: columns[2].split(separator: "|").map { Self.normalise(String($0)) }.filter {
                        !$0.isEmpty
                    },
                    owners: owners, line: number))
        }
        guard !rows.isEmpty else {
            throw TerritoryTableError(file: file, line: 1, reason: "the table has no territories")
        }
        self.rows = rows
    }
}

/// A territory table that cannot be read; `line` is 1-based.
public struct TerritoryTableError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var reason: String
    public var description: String { "\(file):\(line): \(reason)" }
}
