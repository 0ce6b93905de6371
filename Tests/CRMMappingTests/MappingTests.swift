import CRMMapping
import CRMModel
import Foundation
import Testing

/// Writes mapping files to a fresh temporary folder.
func mappingFolder(_ files: [String: String]) throws -> String {
    let dir = NSTemporaryDirectory() + "crmhub-mapping-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
    return dir
}

/// The mapping named `m` in a folder of its own with `yaml` as its file.
func mappingM(_ yaml: String) throws -> CompiledMapping {
    try #require(try MappingLibrary.load(directory: mappingFolder(["m.yaml": yaml])).mapping(named: "m"))
}

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite("Mapping compiler")
struct MappingCompilerTests {
    @Test("every problem is reported with file, line and column")
    func locatedProblems() throws {
        let dir = try mappingFolder([
            "bad.yaml": """
            name: bad
            output: Customer
            key: id
            fields:
              id: {path: id, fn: [shout]}
              kind: {const: person}
              displayName: {path: "a..b"}
              phones: {path: p, fn: [split: ",", lower]}
              extra: {path: x, lookup: nowhere}
              when_bad: {path: x, colour: red}
            """
        ])
        do {
            _ = try MappingLibrary.load(directory: dir)
            Issue.record("bad mapping compiled")
        } catch {
            let text = error.description
            #expect(text.contains("bad.yaml:5:") && text.contains("unknown function 'shout'"))
            #expect(text.contains("bad.yaml:7:") && text.contains("invalid path 'a..b'"))
            #expect(text.contains("function 'lower' expects string but receives array"))
            #expect(text.contains("unknown table 'nowhere'"))
            #expect(text.contains("unknown key 'colour'"))
            #expect(error.problems.count == 5)
        }
    }

    @Test("unknown entity, missing required canonical field, include cycles, duplicate names")
    func structuralProblems() throws {
        let dir = try mappingFolder([
            "a.yaml": "name: a\noutput: Customer\nkey: id\nfields:\n  id: id\n  kind: {const: person}\n",
            "b.yaml": "name: b\noutput: Robot\nkey: id\nfields:\n  id: id\n",
            "c.yaml": "name: c\nfields:\n  x: {include: d}\n",
            "d.yaml": "name: d\nfields:\n  y: {include: c}\n",
            "e.yaml": "name: a\nfields:\n  z: z\n",
            "f.yaml": "name: f\n  bad: [\n",
        ])
        do {
            _ = try MappingLibrary.load(directory: dir)
            Issue.record("compiled")
        } catch {
            let text = error.description
            #expect(text.contains("requires field 'displayName'"))
            #expect(text.contains("unknown entity 'Robot'"))
            #expect(text.contains("include cycle"))
            #expect(text.contains("already used"))
            #expect(text.contains("f.yaml:"))
        }
    }

    @Test("the version hash changes with the content, including included files")
    func versionHash() throws {
        let base =
            "name: m\noutput: Customer\nkey: id\nfields:\n  id: id\n  kind: {const: person}\n  displayName: n\n  addr: {include: frag}\n"
        let v1 = try MappingLibrary.load(
            directory: try mappingFolder(["m.yaml": base, "f.yaml": "name: frag\nfields:\n  city: city\n"])
        ).mapping(named: "m")!.version
        let v2 = try MappingLibrary.load(
            directory: try mappingFolder(["m.yaml": base, "f.yaml": "name: frag\nfields:\n  town: city\n"])
        ).mapping(named: "m")!.version
        let v3 = try MappingLibrary.load(
            directory: try mappingFolder(["m.yaml": base, "f.yaml": "name: frag\nfields:\n  city: city\n"])
        ).mapping(named: "m")!.version
        #expect(v1 != v2)
        #expect(v1 == v3)
    }
}

@Suite("Mapping runtime")
struct MappingRuntimeTests {
    static let mapping = """
        name: people
        output: Customer
        key: {path: id, fn: [string]}
        tables:
          tiers: {g: gold, s: silver}
        fields:
          id: {path: id, fn: [string], required: true}
          kind: {const: person}
          displayName: {path: name, fn: [name], required: true}
          phones: {path: phone, fn: [{phone: DE}, list]}
          tier: {path: t, lookup: tiers, default: none}
          owner: {path: owner_email, lookup: {service: owners}}
          total: {path: cents, fn: [minor_units]}
          first_tag: {path: "tags[0]", fn: [upper]}
          last_tag: {path: "tags[-1]"}
          seen: {path: seen, fn: [{date: {from: "dd.MM.yyyy HH:mm", tz: Europe/Berlin, to: local}}]}
        """

    func compile() throws -> CompiledMapping {
        try MappingLibrary.load(directory: try mappingFolder(["p.yaml": Self.mapping])).mapping(named: "people")!
    }

    @Test("maps paths, indexes, tables, service lookups, money and zoned dates")
    func happyPath() throws {
        let m = try compile()
        let input =
            #"{"id":7,"name":"anna VON der heide","phone":"030 1234567","t":"g","owner_email":"x@y.example","cents":1999,"tags":["a","b","c"],"seen":"31.10.2026 09:15"}"#
        let lookup = StaticLookup(["owners": ["x@y.example": "agent-9"]])
        let result = try m.apply(Array(input.utf8), context: MappingContext(lookup: lookup))
        guard case .output(let records) = result, let r = records.first else {
            Issue.record("no output")
            return
        }
        #expect(r.key == "7")
        #expect(r.value["displayName"] == "Anna von der Heide")
        #expect(r.value["phones"] == ["+49301234567"])
        #expect(r.value["tier"] == "gold")
        #expect(r.value["owner"] == "agent-9")
        #expect(r.value["total"] == "19.99")
        #expect(r.value["first_tag"] == "A")
        #expect(r.value["last_tag"] == "c")
        #expect(r.value["seen"] == "2026-10-31T09:15:00+01:00")
        #expect(String(decoding: r.jsonBytes(), as: UTF8.self).hasPrefix(#"{"id":"7","kind":"person""#))
    }

    @Test(
        "unix seconds with a fraction round to whole milliseconds, carrying into the second",
        arguments: [
            ("1764000000", "2025-11-24T16:00:00Z"),
            ("1764000000.5", "2025-11-24T16:00:00.500Z"),
            ("1764000000.9999", "2025-11-24T16:00:01Z"),
            ("-0.0001", "1970-01-01T00:00:00Z"),
            ("-1.5", "1969-12-31T23:59:58.500Z"),
        ])
    func unixFractions(input: String, expected: String) throws {
        #expect(try convertTime(input, from: "unix") == expected)
    }

    @Test(
        "RFC 3339 times with any number of fractional digits keep the milliseconds",
        arguments: [
            ("2026-11-25T09:32:30.9", "2026-11-25T09:32:30.900Z"),
            ("2026-11-25T09:32:30.98", "2026-11-25T09:32:30.980Z"),
            ("2026-11-25T09:32:30.988", "2026-11-25T09:32:30.988Z"),
            ("2026-11-25T09:32:30.988119", "2026-11-25T09:32:30.988Z"),
            ("2026-11-25T09:32:30.988119123+01:00", "2026-11-25T08:32:30.988Z"),
        ])
    func fractionalSeconds(input: String, expected: String) throws {
        #expect(try convertTime(input, from: "rfc3339") == expected)
    }

    /// `input` through a mapping field `{date: {from: FROM, tz: UTC}}`.
    func convertTime(_ input: String, from: String) throws -> String? {
        let dir = try mappingFolder([
            "t.yaml": """
            name: times
            outputs:
              - entity: Customer
                key: {const: t}
                fields:
                  id: {const: t}
                  kind: {const: person}
                  displayName: {const: T}
                  at: {path: at, fn: [{date: {from: \(from), tz: UTC}}]}
            """
        ])
        let m = try #require(try MappingLibrary.load(directory: dir).mapping(named: "times"))
        guard case .output(let records) = try m.apply(Array(#"{"at":"\#(input)"}"#.utf8)) else {
            Issue.record("no output")
            return nil
        }
        return records.first?.value["at"]?.stringValue
    }

    @Test("errors name the mapping and field and redact the value")
    func redactedError() throws {
        let m = try compile()
        do {
            _ = try m.apply(Array(#"{"id":1,"name":"Secret Person","phone":"12"}"#.utf8))
            Issue.record("accepted a bad phone")
        } catch {
            #expect(error.kind == .field)
            #expect(error.mapping == "people")
            #expect(error.field == "Customer.phones")
            #expect(error.value == "string(2 chars)")
            #expect(!error.description.contains("Secret"))
        }
    }

    @Test(
        "bad input gives typed input errors",
        arguments: [
            #"{"id":1,"#, "[1,2]", "\"text\"", String(repeating: "[", count: 500),
        ])
    func badInput(text: String) throws {
        let m = try compile()
        #expect(throws: MappingError.self) { try m.apply(Array(text.utf8)) }
    }

    @Test("missing required field and missing service lookup")
    func missing() throws {
        let m = try compile()
        do {
            _ = try m.apply(Array(#"{"id":1}"#.utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.field == "Customer.displayName")
        }
        do {
            _ = try m.apply(Array(#"{"id":1,"name":"a","owner_email":"q"}"#.utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.reason.contains("not configured"))
        }
    }

    @Test("shipped mappings compile and all their inline tests pass")
    func shipped() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        #expect(library.mappings.count >= 10)
        var total = 0
        for m in library.mappings.values {
            #expect(!m.tests.isEmpty, "\(m.name) has no tests")
            for o in m.runTests() {
                total += 1
                #expect(o.passed, "\(o.mapping) / \(o.test): \(o.detail)")
            }
        }
        #expect(total >= 40)
    }
}

@Suite("Fuzz: parser and runtime never crash")
struct MappingFuzzTests {
    struct Rng {
        var s: UInt64
        mutating func next(_ n: Int) -> Int {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((s >> 33) % UInt64(n))
        }
    }

    @Test("random and mutated inputs yield records or typed errors (bounded: 30 000 cases or 20 s)")
    func fuzz() throws {
        let library = try MappingLibrary.load(directory: repoRoot + "/Mappings")
        let mappings = library.mappings.values.sorted { $0.name < $1.name }
        let seeds: [[UInt8]] = mappings.flatMap { $0.tests.map(\.input) }
        var rng = Rng(s: 0x5EED)
        let alphabet: [UInt8] =
            Array(#"{}[]:,"\ 0123456789.-eE+truefalsnl\u"#.utf8) + [0xC3, 0xA9, 0xFF, 0xED, 0xA0, 0x80, 0x0A]
        let clock = ContinuousClock()
        let start = clock.now
        var cases = 0
        var records = 0
        var errors = 0
        while cases < 30_000 && clock.now - start < .seconds(20) {
            var input = seeds[rng.next(seeds.count)]
            switch rng.next(4) {
            case 0:  // random bytes
                input = (0..<rng.next(64)).map { _ in alphabet[rng.next(alphabet.count)] }
            default:  // mutate a valid document: flip, insert, delete, truncate
                for _ in 0..<(1 + rng.next(4)) where !input.isEmpty {
                    let i = rng.next(input.count)
                    switch rng.next(4) {
                    case 0: input[i] = alphabet[rng.next(alphabet.count)]
                    case 1: input.insert(alphabet[rng.next(alphabet.count)], at: i)
                    case 2: input.remove(at: i)
                    default: input = Array(input[..<i])
                    }
                }
            }
            let m = mappings[rng.next(mappings.count)]
            do {
                switch try m.apply(input) {
                case .output(let r):
                    records += r.count
                    // Records written as JSON decode back to a value with the same encoding.
                    for x in r { #expect(x.value.jsonBytes() == x.jsonBytes()) }
                case .dropped: break
                }
            } catch {
                errors += 1
                #expect(!error.reason.isEmpty)
            }
            cases += 1
        }
        print(
            "fuzz: \(cases) cases over \(mappings.count) mappings in \(clock.now - start): \(records) records, \(errors) typed errors"
        )
        #expect(cases >= 1000)
    }
}
