// crmhub mdm review: the queue of possible matches an operator works through (list, accept, reject).

import ArgumentParser
import CRMMasterData
import Foundation

extension MdmCommand {
    struct Review: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Work through possible matches: list them with their evidence, accept (merge) or reject.",
            subcommands: [List.self, Accept.self, Reject.self], defaultSubcommand: List.self)

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List open review items with the match explanation (which fields agreed, their weights).")
            @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db:
                String
            @Flag(help: "One JSON object per item instead of text.") var json = false
            @OptionGroup var settings: MdmSettings

            func run() async throws {
                let items = try await MdmIO.openResolver(db, settings).openReviews()
                for item in items {
                    if json {
                        print(MdmIO.json(item).replacingOccurrences(of: "\n", with: " "))
                        continue
                    }
                    let p = 1 / (1 + pow(2, -item.score))
                    print(
                        String(
                            format: "%@  in %@  may be %@  score %.1f bits (match probability %.2f)",
                            item.record.description,
                            item.goldenId, item.candidateGoldenId, item.score, p))
                    for e in item.evidence {
                        let field = e.field.padding(toLength: 9, withPad: " ", startingAt: 0)
                        let level = e.level.padding(toLength: 20, withPad: " ", startingAt: 0)
                        print("    \(field) \(level) " + String(format: "%+6.1f", e.weight))
                    }
                }
                MdmIO.stderr("\(items.count) open review item(s); accept with `crmhub mdm review accept SYSTEM/ID`")
            }
        }

        struct Accept: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract:
                    "Accept a possible match: merge the record's golden record into the candidate (audited, published)."
            )
            @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db:
                String
            @Argument(help: "SYSTEM/EXTERNAL_ID of the reviewed record.") var record: String
            @Option(help: "Who decides (for the audit).") var actor =
                ProcessInfo.processInfo.environment["USER"] ?? "cli"
            @OptionGroup var settings: MdmSettings

            func run() async throws {
                let into = try await MdmIO.openResolver(db, settings).acceptReview(try MdmIO.ref(record), actor: actor)
                print("accepted: \(record) belongs to \(into)")
            }
        }

        struct Reject: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Reject a possible match: the record keeps its own golden record (audited).")
            @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db:
                String
            @Argument(help: "SYSTEM/EXTERNAL_ID of the reviewed record.") var record: String
            @Option(help: "Who decides (for the audit).") var actor =
                ProcessInfo.processInfo.environment["USER"] ?? "cli"
            @OptionGroup var settings: MdmSettings

            func run() async throws {
                try await MdmIO.openResolver(db, settings).rejectReview(try MdmIO.ref(record), actor: actor)
                print("rejected: \(record) stays separate")
            }
        }
    }
}
