// crmhub mdm timeline / consents: a golden customer's contact history and consent statements.

import ArgumentParser
import CRMMasterData
import Foundation

extension MdmCommand {
    struct Timeline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a golden customer's contact history, newest first, one page at a time.")
        @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db: String
        @Argument(help: "Golden id or SYSTEM/EXTERNAL_ID.") var id: String
        @Option(help: "Entries per page (1-\(TimelinePage.maximumLimit)).") var limit = 20
        @Option(help: "Show entries older than this cursor (the 'next:' line of the previous page).") var before:
            String?
        @Flag(help: "Print JSON lines instead of a table.") var json = false
        @OptionGroup var settings: MdmSettings

        func validate() throws {
            guard (1...TimelinePage.maximumLimit).contains(limit) else {
                throw ValidationError("--limit must be 1 to \(TimelinePage.maximumLimit)")
            }
            if let before, TimelineCursor(before) == nil {
                throw ValidationError("--before must be the cursor a previous page printed after 'next:'")
            }
        }

        func run() async throws {
            let resolver = try await MdmIO.openResolver(db, settings)
            let golden = try await MdmIO.golden(id, in: resolver)
            let page = try await resolver.timeline(
                goldenId: golden.id, limit: limit, before: before.flatMap { TimelineCursor($0) })
            if page.entries.isEmpty { MdmIO.stderr("no interactions for \(golden.id)") }
            for e in page.entries {
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    print(String(decoding: try encoder.encode(e), as: UTF8.self))
                } else {
                    print(
                        [
                            MdmIO.timestamp(e.at), e.direction, e.channel, e.kind, "\(e.source)/\(e.ref)",
                            e.summary ?? "",
                        ].joined(separator: "\t"))
                }
            }
            if let next = page.next { print("next: \(next)") }
        }
    }

    struct Consents: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a golden customer's consent statements and what holds per purpose and channel.")
        @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db: String
        @Argument(help: "Golden id or SYSTEM/EXTERNAL_ID.") var id: String
        @OptionGroup var settings: MdmSettings

        func run() async throws {
            let resolver = try await MdmIO.openResolver(db, settings)
            let golden = try await MdmIO.golden(id, in: resolver)
            let statements = try await resolver.consents(goldenId: golden.id)
            if statements.isEmpty { MdmIO.stderr("no consent statements for \(golden.id): every purpose is unknown") }
            for s in statements {
                print(
                    [MdmIO.timestamp(s.at), s.purpose, s.channel.rawValue, s.status.rawValue, s.source].joined(
                        separator: "\t"))
            }
            let pairs = Set(statements.map { "\($0.purpose)\t\($0.channel.rawValue)" }).sorted()
            for pair in pairs {
                let parts = pair.split(separator: "\t").map(String.init)
                let decision = Consent.resolve(
                    statements, purpose: parts[0], channel: ConsentChannel(rawValue: parts[1]) ?? .any)
                print("holds: \(parts[0]) on \(parts[1]): \(decision.label)")
            }
        }
    }
}

extension MdmIO {
    /// The golden record named by a golden id or a SYSTEM/EXTERNAL_ID reference.
    static func golden(_ id: String, in resolver: MasterDataResolver) async throws -> GoldenRecord {
        var gid = id
        if id.contains("/"), let g = await resolver.goldenId(for: try ref(id)) { gid = g }
        guard let golden = await resolver.golden(id: gid) else { throw ValidationError("no golden record \(id)") }
        return golden
    }

    /// Milliseconds since 1970 as an ISO 8601 UTC time.
    static func timestamp(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1_000))
    }
}
