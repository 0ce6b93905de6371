// crmhub-bench-mapping: mapping throughput benchmark (see Benchmarks/mapping-bench.sh).
//
//   crmhub-bench-mapping generate COUNT FILE      write COUNT realistic customer JSON lines to FILE
//   crmhub-bench-mapping run MAPPINGS NAME FILE   map every line of FILE, JSON lines to stdout; stats to stderr
import CRMMapping
import CRMModel
import Foundation

@main
struct MappingBench {
    static func main() throws {
        let args = CommandLine.arguments
        switch args.count > 1 ? args[1] : "" {
        case "generate" where args.count == 4:
            try generate(count: Int(args[2]) ?? 1_000_000, file: args[3])
        case "run" where args.count == 5:
            try run(mappings: args[2], name: args[3], file: args[4])
        default:
            FileHandle.standardError.write(
                Data("usage: crmhub-bench-mapping generate COUNT FILE | run MAPPINGS NAME FILE\n".utf8))
            exit(64)
        }
    }

    static func run(mappings: String, name: String, file: String) throws {
        let library = try MappingLibrary.load(directory: mappings)
        guard let mapping = library.mapping(named: name) else { throw BenchError("no mapping \(name)") }
        guard let input = FileHandle(forReadingAtPath: file) else { throw BenchError("cannot read \(file)") }
        let start = ContinuousClock.now
        var out: [UInt8] = []
        out.reserveCapacity(1 << 22)
        var records = 0
        var errors = 0
        var dropped = 0
        let stdout = FileHandle.standardOutput
        // The file is read in 4 MiB chunks (constant memory); a line cut by a chunk boundary is carried over.
        var pending: [UInt8] = []
        func map(_ line: UnsafeBufferPointer<UInt8>) {
            guard !line.isEmpty else { return }
            do {
                switch try mapping.apply(Array(line)) {
                case .output(let recs):
                    for r in recs {
                        out.append(contentsOf: r.jsonBytes())
                        out.append(0x0A)
                        records += 1
                    }
                case .dropped: dropped += 1
                }
            } catch { errors += 1 }
            if out.count > (1 << 22) - 4096 {
                stdout.write(Data(out))
                out.removeAll(keepingCapacity: true)
            }
        }
        while true {
            let chunk = try input.read(upToCount: 1 << 22) ?? Data()
            if chunk.isEmpty { break }
            pending.append(contentsOf: chunk)
            let consumed: Int = pending.withUnsafeBufferPointer { buffer in
                var lineStart = 0
                while lineStart < buffer.count,
                    let found = memchr(buffer.baseAddress! + lineStart, 0x0A, buffer.count - lineStart)
                {
                    let end = UnsafePointer(found.assumingMemoryBound(to: UInt8.self)) - buffer.baseAddress!
                    map(UnsafeBufferPointer(rebasing: buffer[lineStart..<end]))
                    lineStart = end + 1
                }
                return lineStart
            }
            pending.removeFirst(consumed)
        }
        pending.withUnsafeBufferPointer { map($0) }
        stdout.write(Data(out))
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let report = String(
            format: "crmhub: %d records, %d dropped, %d errors in %.3f s = %.0f records/s (1 core)\n",
            records, dropped, errors, seconds, Double(records + dropped + errors) / seconds)
        FileHandle.standardError.write(Data(report.utf8))
    }

    static func generate(count: Int, file: String) throws {
        var rng = SplitMix(seed: 42)
        let first = [
            "jane", "JOHN", "mary-ann", "sean", "Ali", "chen", "olivia", "noah", "EMMA", "lucas", "sofia", "liam",
        ]
        let last = [
            "doe", "O'BRIEN", "mcdonald", "smith", "van der berg", "Khan", "müller", "garcía", "Nguyen", "brown",
        ]
        let cities = ["london", "MANCHESTER", "leeds", "bristol", "glasgow", "edinburgh", "cardiff"]
        let companies = ["Acme Ltd", " Globex plc", "Initech", "Umbrella Corp "]
        let tags = ["VIP", "newsletter", " b2b", "Churn-Risk", "trial"]
        let statuses = ["A", "A", "A", "I", "P"]
        let tiers = ["gold", "silver", " bronze", "platinum"]
        var out = ""
        out.reserveCapacity(count * 520)
        let fh = FileManager.default.createFile(atPath: file, contents: nil) ? FileHandle(forWritingAtPath: file) : nil
        guard let fh else { throw BenchError("cannot create \(file)") }
        for i in 0..<count {
            let f = first[rng.next(first.count)]
            let l = last[rng.next(last.count)]
            let isCompany = rng.next(5) == 0
            let phone =
                rng.next(2) == 0
                ? "020 7946 \(String(format: "%04d", rng.next(10000)))"
                : "+44 7700 \(String(format: "%06d", rng.next(1_000_000)))"
            let tagList = (0..<(1 + rng.next(3))).map { _ in "\"\(tags[rng.next(tags.count)])\"" }.joined(
                separator: ",")
            let day = 1 + rng.next(28)
            let month = 1 + rng.next(12)
            out += "{\"id\":\(100000 + i),\"first_name\":\"\(f)\",\"last_name\":\"\(l)\","
            if isCompany { out += "\"company\":\"\(companies[rng.next(companies.count)])\"," }
            let local = String(
                String.UnicodeScalarView(
                    (f + "." + l).unicodeScalars.compactMap { $0 == " " || $0 == "'" ? nil : ($0.isASCII ? $0 : "u") }))
            out += "\"email\":\" \(local)\(i)@Example.COM\","
            out +=
                "\"phone\":\"\(phone)\",\"status\":\"\(statuses[rng.next(statuses.count)])\",\"tier\":\"\(tiers[rng.next(tiers.count)])\","
            out +=
                "\"created_at\":\"20\(String(format: "%02d", 15 + rng.next(10)))-\(String(format: "%02d", month))-\(String(format: "%02d", day))T\(String(format: "%02d", rng.next(24))):\(String(format: "%02d", rng.next(60))):00+01:00\","
            out +=
                "\"address\":{\"street\":\"\(1 + rng.next(200)) High Street \",\"city\":\"\(cities[rng.next(cities.count)])\",\"zip\":\"ec1a \(rng.next(10))bb\",\"country\":\"gb\"},"
            out += "\"tags\":[\(tagList)],\"marketing\":{\"email\":\(rng.next(2) == 0),\"sms\":\(rng.next(3) == 0)},"
            out +=
                "\"lifetime_value\":\"\(rng.next(100000)).\(rng.next(10))\",\"locale\":\"en_GB\",\"source\":\"legacy\"}\n"
            if out.utf8.count > 1 << 22 {
                fh.write(Data(out.utf8))
                out.removeAll(keepingCapacity: true)
            }
        }
        fh.write(Data(out.utf8))
        try fh.close()
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Deterministic generator so every run maps the same data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
