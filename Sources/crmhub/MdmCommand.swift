// crmhub mdm: master data from the command line — bulk resolve, evaluation, and operating a master data store.

import ArgumentParser
import CRMMasterData
import CRMMasterDataPostgres
import CRMYAML
import Foundation

struct MdmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mdm",
        abstract: "Master data: resolve customer records into golden records, inspect, merge, unmerge, erase.",
        subcommands: [
            ResolveFile.self, Generate.self, Evaluate.self, Resolve.self, Show.self, Search.self, Merge.self,
            Unmerge.self, Detach.self, Review.self, Erase.self, Timeline.self, Consents.self,
        ])
}

/// Options shared by commands that load resolver settings.
struct MdmSettings: ParsableArguments {
    @Option(name: .customLong("mdm-config"), help: "YAML file with the `mdm:` settings (thresholds, survivorship).")
    var configPath: String?

    func load() throws -> ResolverConfiguration {
        guard let configPath else { return ResolverConfiguration() }
        return try MdmConfigFile.load(path: configPath)
    }
}

/// Reads `mdm:` settings with located errors:
/// ```yaml
/// mdm:
///   merge_threshold: 15
///   review_threshold: 8
///   max_block_size: 64
///   survivorship:
///     default: most_recent
///     email: most_recent
///     given_name: { most_trusted_source: [crm, shop] }
///     street: most_complete
/// ```
enum MdmConfigFile {
    static func load(path: String) throws -> ResolverConfiguration {
        let root = try YAMLDocument.load(path: path).mapping()
        let m = try (root.optional("mdm") ?? root.owner).mapping()
        try m.allowOnly([
            "merge_threshold", "review_threshold", "cluster_mean_threshold", "max_block_size", "survivorship",
        ])
        var c = ResolverConfiguration()
        if let v = m.optional("merge_threshold") { c.mergeThreshold = try v.double() }
        if let v = m.optional("review_threshold") { c.reviewThreshold = try v.double() }
        if let v = m.optional("cluster_mean_threshold") { c.clusterMeanThreshold = try v.double() }
        if let v = m.optional("max_block_size") { c.maxBlockSize = try v.int(in: 2...100_000) }
        if let s = m.optional("survivorship") {
            for entry in try s.mapping().entries {
                let rule = try rule(entry.value)
                if entry.key == "default" {
                    c.defaultRule = rule
                } else if let a = GoldenAttribute(rawValue: entry.key) {
                    c.survivorship[a] = rule
                } else {
                    throw entry.value.error(
                        "unknown attribute '\(entry.key)'; known: default, \(GoldenAttribute.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
            }
        }
        do { try c.validate() } catch { throw m.owner.error(error.message) }
        return c
    }

    static func rule(_ v: YAMLValue) throws(YAMLError) -> SurvivorshipRule {
        if let m = try? v.mapping() {
            try m.allowOnly(["most_trusted_source"])
            return .mostTrustedSource(
                try m.require("most_trusted_source").sequence().map { v throws(YAMLError) in try v.nonEmptyString() })
        }
        switch try v.oneOf(["most_recent", "most_complete", "most_frequent"]) {
        case "most_complete": return .mostComplete
        case "most_frequent": return .mostFrequent
        default: return .mostRecent
        }
    }
}

enum MdmIO {
    static func readFile(_ path: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        return [UInt8](d)
    }
    static func write(_ text: String, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw ValidationError("cannot write \(path)")
        }
    }
    static func stderr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
    static func parseColumns(_ spec: String?) throws -> [String: String] {
        var out: [String: String] = [:]
        for pair in (spec ?? "").split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else {
                throw ValidationError("--columns expects field=column pairs, got '\(pair)'")
            }
            out[kv[0]] = kv[1]
        }
        return out
    }
    static func openResolver(_ db: String, _ settings: MdmSettings) async throws -> MasterDataResolver {
        let store: any MasterDataStore
        if db.hasPrefix("postgres://") || db.hasPrefix("postgresql://") {
            store = try await PostgresMasterDataStore(url: db)
        } else {
            store = try SQLiteMasterDataStore(path: db)
        }
        return try await MasterDataResolver(store: store, configuration: try settings.load())
    }
    static func json<T: Encodable>(_ v: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? String(decoding: e.encode(v), as: UTF8.self)) ?? "\(v)"
    }
    static func ref(_ s: String) throws -> RecordRef {
        let p = s.split(separator: "/", maxSplits: 1).map(String.init)
        guard p.count == 2 else { throw ValidationError("record reference must be SYSTEM/EXTERNAL_ID, got '\(s)'") }
        return RecordRef(system: p[0], externalId: p[1])
    }
}

extension MdmCommand {
    struct ResolveFile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "resolve-file",
            abstract: "Resolve customer records from a CSV file and write id,cluster_id for every record.",
            discussion: """
                The first column is an opaque record id. Canonical fields: \(CSVTable.canonicalFields.joined(separator: ", ")).
                Columns named like a canonical field, or by a common name for it (first_name, surname, last_name,
                dob, birth_date, zip, postal_code, suburb, town, address_1, telephone, mobile, …; case, spaces,
                `_` and `-` do not matter), are used as that field; --columns maps others
                (e.g. --columns given_name=vorname,family_name=nachname,house_number=hausnr). house_number is only
                used when named. Other columns are ignored; the columns used are printed to stderr.
                Uses the same engine as the daemon, in memory. Timing and counts go to stderr.
                """)
        @Argument(help: "Input CSV with a header row.") var input: String
        @Option(help: "Output CSV (id,cluster_id).") var out: String
        @Option(help: "Column mapping field=column,…") var columns: String?
        @Option(help: "System name when no system column is mapped.") var system = "file"
        @Flag(help: "Measure per-record resolve latency (p50/p99) as records arrive one by one.") var latency = false
        @OptionGroup var settings: MdmSettings

        @Flag(help: "Resolve with the prior model instead of training on the file first.") var noTraining = false
        @Flag(help: "Print the trained model (m/u per level, prior).") var verbose = false

        func run() async throws {
            let columnMap = try MdmIO.parseColumns(columns)
            let used = try CSVTable.header(ofFile: input).columnNames(columns: columnMap)
            let identifying = ["given_name", "family_name", "email", "phone"]
            guard identifying.contains(where: { used[$0] != nil }) else {
                throw ValidationError(
                    "no column of \(input) is a name, e-mail or phone; map one with --columns (e.g. family_name=nachname)")
            }
            MdmIO.stderr(
                "columns: " + CSVTable.canonicalFields.compactMap { f in used[f].map { "\(f)=\($0)" } }.joined(separator: " "))
            var bulk = BulkResolution(configuration: try settings.load())
            bulk.measureLatency = latency
            bulk.train = !noTraining
            let report = try bulk.run(
                input: input, output: out, columns: columnMap, defaultSystem: system)
            if verbose, let t = report.training { MdmIO.stderr(t.description) }
            MdmIO.stderr(report.description)
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic labelled customer CSV (id,person_id,system,given_name,…) for evaluation.")
        @Option(help: "Number of records.") var count = 100_000
        @Option(help: "Random seed.") var seed: UInt64 = 2
        @Option(help: "Output CSV.") var out: String

        func run() throws {
            try SyntheticCustomers(seed: seed).writeCSV(count: count, to: out)
            MdmIO.stderr("records=\(count) seed=\(seed)")
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score id,cluster_id against a labelled input: pairwise and cluster precision/recall/F1.")
        @Option(help: "The labelled input CSV (first column id).") var input: String
        @Option(help: "The resolve-file output.") var clusters: String
        @Option(help: "Ground-truth column in the input.") var truthColumn = "person_id"

        func run() throws {
            print(try ResolutionEvaluation.evaluate(input: input, clusters: clusters, truthColumn: truthColumn))
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resolve a JSON array of customer records into a master data database and print the outcomes.")
        @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db: String
        @Argument(help: "JSON file: [{\"system\":…, \"externalId\":…, \"givenName\":…}, …]") var input: String
        @OptionGroup var settings: MdmSettings

        func run() async throws {
            let records = try JSONDecoder().decode([CustomerRecord].self, from: Data(try MdmIO.readFile(input)))
            let resolver = try await MdmIO.openResolver(db, settings)
            for r in records {
                let res = try await resolver.resolve(r)
                print(
                    "\(res.ref)\t\(res.decision.rawValue)\t\(res.goldenId)"
                        + (res.candidateGoldenId.map { "\tcandidate=\($0)" } ?? "")
                        + (res.score.map { String(format: "\tscore=%.1f", $0) } ?? ""))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a golden record, its members and its audit trail.")
        @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db: String
        @Argument(help: "Golden id or SYSTEM/EXTERNAL_ID.") var id: String
        @OptionGroup var settings: MdmSettings

        func run() async throws {
            let resolver = try await MdmIO.openResolver(db, settings)
            var gid = id
            if id.contains("/"), let g = await resolver.goldenId(for: try MdmIO.ref(id)) { gid = g }
            guard let golden = await resolver.golden(id: gid) else { throw ValidationError("no golden record \(id)") }
            print(MdmIO.json(golden))
            for a in try await resolver.auditTrail(goldenId: golden.id) { print(MdmIO.json(a)) }
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find golden records by e-mail, phone or name.")
        @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db: String
        @Option var email: String?
        @Option var phone: String?
        @Option(help: "Given name (with --family-name).") var givenName: String?
        @Option var familyName: String?
        @OptionGroup var settings: MdmSettings

        func run() async throws {
            let resolver = try await MdmIO.openResolver(db, settings)
            var found: [GoldenRecord] = []
            if let email { found += await resolver.lookup(email: email) }
            if let phone { found += await resolver.lookup(phone: phone) }
            if let givenName, let familyName {
                found += await resolver.search(givenName: givenName, familyName: familyName)
            }
            for g in found { print(MdmIO.json(g)) }
            if found.isEmpty { MdmIO.stderr("no golden record found") }
        }
    }

    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Merge one golden record into another (audited).")
        @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db: String
        @Argument var survivor: String
        @Argument var absorbed: String
        @Option(help: "Who merges (for the audit).") var actor = ProcessInfo.processInfo.environment["USER"] ?? "cli"
        @OptionGroup var settings: MdmSettings
        func run() async throws {
            try await MdmIO.openResolver(db, settings).merge(survivor: survivor, absorbed: absorbed, actor: actor)
            print("merged \(absorbed) into \(survivor)")
        }
    }

    struct Unmerge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Undo a merge: restore the absorbed golden record.")
        @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db: String
        @Argument var absorbed: String
        @Option var actor = ProcessInfo.processInfo.environment["USER"] ?? "cli"
        @OptionGroup var settings: MdmSettings
        func run() async throws {
            try await MdmIO.openResolver(db, settings).unmerge(absorbed: absorbed, actor: actor)
            print("restored \(absorbed)")
        }
    }

    struct Detach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a wrongly joined record out into its own golden record.")
        @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db: String
        @Argument(help: "SYSTEM/EXTERNAL_ID") var record: String
        @Option var actor = ProcessInfo.processInfo.environment["USER"] ?? "cli"
        @OptionGroup var settings: MdmSettings
        func run() async throws {
            let to = try await MdmIO.openResolver(db, settings).detach(try MdmIO.ref(record), actor: actor)
            print("detached \(record) into \(to)")
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Erase a person (right to erasure); a running daemon publishes the erase event and tombstones.")
        @Option(help: "Master data store: a SQLite file or a postgres://user:password@host:port/db URL.") var db: String
        @Argument var goldenId: String
        @Option var actor = ProcessInfo.processInfo.environment["USER"] ?? "cli"
        @OptionGroup var settings: MdmSettings
        func run() async throws {
            try await MdmIO.openResolver(db, settings).erase(goldenId: goldenId, actor: actor)
            print("erased \(goldenId)")
        }
    }
}
