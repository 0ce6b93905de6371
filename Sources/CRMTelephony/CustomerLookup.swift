import CRMMasterData
import CRMNormalize
import Foundation

/// A customer found for a calling number, with the tickets an agent should see when the call pops.
public struct CustomerMatch: Sendable, Equatable {
    /// The customer's id in the hub (golden record id, or the CRM id of a static table).
    public var customerRef: String
    public var displayName: String?
    /// Open tickets, newest first, when the lookup knows them (empty otherwise).
    public var openTickets: [TicketSummary]
    /// How many customers share the number (more than one: the agent should ask).
    public var matchCount: Int
    /// Every reference a ticket's `customerRef` may use for this customer: the ref itself, `email:<address>`,
    /// `phone:<E.164>`, `<system>:<id>` of its source records.
    public var references: [String]

    public init(
        customerRef: String, displayName: String? = nil, openTickets: [TicketSummary] = [], matchCount: Int = 1,
        references: [String] = []
    ) {
        self.customerRef = customerRef
        self.displayName = displayName
        self.openTickets = openTickets
        self.matchCount = matchCount
        self.references = references.isEmpty ? [customerRef] : references
    }
}

/// A ticket as shown on a screen-pop.
public struct TicketSummary: Sendable, Equatable {
    public var id: String
    public var status: String
    public var subject: String

    public init(id: String, status: String, subject: String) {
        self.id = id
        self.status = status
        self.subject = subject
    }
}

/// Finds the customer behind an E.164 number. Implementations: ``MasterDataCustomerLookup`` (the master-data
/// resolver's golden records) and ``StaticCustomerTable`` (a CSV file, with open tickets).
public protocol CustomerLookup: Sendable {
    /// The customer with this number (already normalised to E.164), nil when nobody has it.
    func customer(forPhone e164: String) async throws -> CustomerMatch?
}

/// Looks callers up in the master-data resolver's golden records (no tickets: the resolver does not hold them; wrap it
/// in an ``OpenTicketsLookup``).
public struct MasterDataCustomerLookup: CustomerLookup {
    public let resolver: MasterDataResolver

    public init(resolver: MasterDataResolver) {
        self.resolver = resolver
    }

    public func customer(forPhone e164: String) async throws -> CustomerMatch? {
        let goldens = await resolver.lookup(phone: e164).sorted { $0.id < $1.id }
        guard let first = goldens.first else { return nil }
        let name = [first.attributes[.givenName], first.attributes[.familyName]].compactMap { $0 }.joined(
            separator: " ")
        let references =
            [first.id, "phone:\(e164)"] + (first.attributes[.email].map { ["email:\($0)"] } ?? [])
            + first.members.map { "\($0.system):\($0.externalId)" }
        return CustomerMatch(
            customerRef: first.id, displayName: name.isEmpty ? nil : name, matchCount: goldens.count,
            references: references)
    }
}

/// A fixed table of callers, read from CSV until a CRM lookup is wired in:
///
/// ```csv
/// phone,customer_ref,display_name,open_tickets
/// 020 7946 0018,C-1001,Ada Lovelace,"T-77:open:Router keeps rebooting;T-78:pending:Refund for May"
/// ```
/// `phone` is normalised to E.164 with the default region; `open_tickets` is `ID:STATUS:SUBJECT` items separated by
/// `;` (optional column).
public struct StaticCustomerTable: CustomerLookup {
    private let byPhone: [String: [CustomerMatch]]

    /// A table from matches keyed by E.164 number.
    public init(entries: [(phone: String, match: CustomerMatch)]) {
        var table: [String: [CustomerMatch]] = [:]
        for entry in entries { table[entry.phone, default: []].append(entry.match) }
        byPhone = table
    }

    /// Reads the CSV file at `path`.
    /// - Throws: ``StaticCustomerTable/LoadError`` naming the file and row.
    public init(csvPath path: String, defaultRegion: String) throws(LoadError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(file: path, row: 0, reason: "cannot read the file")
        }
        try self.init(csv: Array(data), file: path, defaultRegion: defaultRegion)
    }

    /// Parses CSV bytes (see the type's documentation for the columns).
    public init(csv bytes: [UInt8], file: String = "<memory>", defaultRegion: String) throws(LoadError) {
        let table: CSVTable
        do {
            table = try CSVTable.parse(bytes)
        } catch {
            throw LoadError(file: file, row: 0, reason: error.description)
        }
        let header = table.header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let phoneColumn = header.firstIndex(of: "phone"), let refColumn = header.firstIndex(of: "customer_ref")
        else {
            throw LoadError(file: file, row: 1, reason: "header must name the columns 'phone' and 'customer_ref'")
        }
        let nameColumn = header.firstIndex(of: "display_name")
        let ticketsColumn = header.firstIndex(of: "open_tickets")
        var entries: [(phone: String, match: CustomerMatch)] = []
        for (index, row) in table.rows.enumerated() {
            let rowNumber = index + 2
            func cell(_ column: Int?) -> String? {
                guard let column, column < row.count else { return nil }
                let value = row[column].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
            guard let rawPhone = cell(phoneColumn), let ref = cell(refColumn) else {
                throw LoadError(file: file, row: rowNumber, reason: "'phone' and 'customer_ref' are required")
            }
            let phone: String
            do {
                phone = try PhoneNumber.e164(rawPhone, defaultRegion: defaultRegion)
            } catch {
                throw LoadError(file: file, row: rowNumber, reason: "phone is not a valid number: \(error.reason)")
            }
            let tickets = try Self.tickets(cell(ticketsColumn) ?? "", file: file, row: rowNumber)
            entries.append(
                (
                    phone,
                    CustomerMatch(
                        customerRef: ref, displayName: cell(nameColumn), openTickets: tickets,
                        references: [ref, "phone:\(phone)"])
                ))
        }
        self.init(entries: entries)
    }

    static func tickets(_ text: String, file: String, row: Int) throws(LoadError) -> [TicketSummary] {
        var tickets: [TicketSummary] = []
        for item in text.split(separator: ";") {
            let parts = item.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[0].trimmingCharacters(in: .whitespaces).isEmpty else {
                throw LoadError(file: file, row: row, reason: "open_tickets items must be ID:STATUS:SUBJECT")
            }
            tickets.append(
                TicketSummary(
                    id: parts[0].trimmingCharacters(in: .whitespaces),
                    status: parts[1].trimmingCharacters(in: .whitespaces),
                    subject: parts[2].trimmingCharacters(in: .whitespaces)))
        }
        return tickets
    }

    /// Number of distinct numbers in the table.
    public var count: Int { byPhone.count }

    public func customer(forPhone e164: String) async throws -> CustomerMatch? {
        guard let matches = byPhone[e164], var first = matches.first else { return nil }
        first.matchCount = matches.count
        return first
    }

    /// A customer table that cannot be read.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var file: String
        /// 1-based CSV row (the header is row 1), 0 for the whole file.
        public var row: Int
        public var reason: String
        public var description: String { "\(file)\(row > 0 ? ":\(row)" : ""): \(reason)" }
    }
}

/// Adds the caller's open tickets from a live source (the ticket topic's view) to another lookup's match: tickets whose
/// `customerRef` is one of the match's ``CustomerMatch/references``, newest first, after the tickets the lookup itself
/// knows (a static table's), without repeats.
public struct OpenTicketsLookup: CustomerLookup {
    public typealias TicketSource = @Sendable (_ references: [String]) async throws -> [TicketSummary]

    public let base: any CustomerLookup
    private let tickets: TicketSource

    public init(base: any CustomerLookup, tickets: @escaping TicketSource) {
        self.base = base
        self.tickets = tickets
    }

    public func customer(forPhone e164: String) async throws -> CustomerMatch? {
        guard var match = try await base.customer(forPhone: e164) else { return nil }
        let known = Set(match.openTickets.map(\.id))
        match.openTickets += try await tickets(match.references).filter { !known.contains($0.id) }
        return match
    }
}
