import CRMModel
import CRMYAML
import Foundation

/// All mappings of a directory, compiled. Immutable and `Sendable`; reload by loading a new library.
public struct MappingLibrary: Sendable {
    /// Compiled mappings by name (fragments, which have no output, are not listed).
    public let mappings: [String: CompiledMapping]
    /// The external lookup served to `lookup: {service: ...}` fields.
    public let lookup: (any MappingLookup)?

    /// A context carrying this library's lookup, for ``CompiledMapping/apply(_:context:)``.
    public var context: MappingContext { MappingContext(lookup: lookup) }

    /// The mapping called `name`, if any.
    public func mapping(named name: String) -> CompiledMapping? { mappings[name] }

    /// Loads and compiles every `*.yaml`/`*.yml` file under `directory` (recursively).
    /// - Throws: ``MappingLoadError`` listing every problem (YAML syntax, unknown keys, functions, tables, paths,
    ///   includes, type mismatches, duplicate names), each with file:line:column.
    public static func load(
        directory: String, lookup: (any MappingLookup)? = nil
    ) throws(MappingLoadError) -> MappingLibrary {
        var files: [String] = []
        if let e = FileManager.default.enumerator(atPath: directory) {
            while let f = e.nextObject() as? String {
                if f.hasSuffix(".yaml") || f.hasSuffix(".yml") { files.append(directory + "/" + f) }
            }
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw MappingLoadError(problems: [
                YAMLError("mapping directory does not exist", at: SourceLocation(file: directory, line: 0, column: 0))
            ])
        }
        return try load(files: files.sorted(), lookup: lookup)
    }

    /// Loads and compiles the given mapping files; includes are resolved among them.
    public static func load(
        files: [String], lookup: (any MappingLookup)? = nil
    ) throws(MappingLoadError) -> MappingLibrary {
        let builder = LibraryBuilder()
        for f in files {
            guard let data = FileManager.default.contents(atPath: f) else {
                builder.problems.append(YAMLError("cannot read file", at: SourceLocation(file: f, line: 0, column: 0)))
                continue
            }
            let text = String(decoding: data, as: UTF8.self)
            do {
                let y = try YAMLDocument.parse(text, file: f)
                let m = try y.mapping()
                let nameValue = try m.require("name")
                let name = try nameValue.nonEmptyString()
                if let other = builder.sources[name] {
                    builder.problems.append(nameValue.error("mapping name '\(name)' is already used by \(other.file)"))
                    continue
                }
                builder.sources[name] = (y, f, Array(data))
            } catch { builder.problems.append(error) }
        }
        var compiled: [String: CompiledMapping] = [:]
        for name in builder.sources.keys.sorted() {
            if let c = builder.compile(name), !c.outputs.isEmpty { compiled[name] = c.mapping }
        }
        if !builder.problems.isEmpty { throw MappingLoadError(problems: builder.problems) }
        return MappingLibrary(mappings: compiled, lookup: lookup)
    }
}

final class LibraryBuilder {
    var sources: [String: (yaml: YAMLValue, file: String, bytes: [UInt8])] = [:]
    var problems: [YAMLError] = []
    var done: [String: (mapping: CompiledMapping, outputs: [OutputPlan], fields: [FieldPlan], hash: UInt64)] = [:]
    var inProgress: Set<String> = []

    static let topKeys: Set<String> = [
        "name", "description", "input", "output", "outputs", "key", "fields", "when",
        "drop_when", "filter", "tables", "tests", "version",
    ]
    static let outputKeys: Set<String> = ["entity", "key", "fields", "when", "validate"]

    func compile(
        _ name: String
    ) -> (mapping: CompiledMapping, outputs: [OutputPlan], fields: [FieldPlan], hash: UInt64)? {
        if let d = done[name] { return d }
        guard let src = sources[name] else { return nil }
        inProgress.insert(name)
        defer { inProgress.remove(name) }
        var hash = fnv1a(src.bytes)
        let dir = (src.file as NSString).deletingLastPathComponent
        var c = Compiler(
            file: src.file, directory: dir.isEmpty ? "." : dir,
            resolveInclude: { [unowned self] inc, at in
                if self.inProgress.contains(inc) {
                    self.problems.append(at.error("include cycle through '\(inc)'"))
                    return nil
                }
                guard let r = self.compile(inc) else {
                    self.problems.append(at.error("unknown mapping '\(inc)' in include"))
                    return nil
                }
                hash = fnv1a(Array(String(r.hash, radix: 16).utf8), seed: hash)
                return r.fields
            })
        guard let m = try? src.yaml.mapping() else { return nil }
        for e in m.entries where !LibraryBuilder.topKeys.contains(e.key) {
            c.note(
                YAMLError(
                    "unknown key '\(e.key)' (known: \(LibraryBuilder.topKeys.sorted().joined(separator: ", ")))",
                    at: e.keyLocation))
        }
        if let t = m.optional("tables") { c.loadTables(t) }
        let input = m.optional("input").flatMap { try? $0.string() } ?? ""
        var outputs: [OutputPlan] = []
        var fragmentFields: [FieldPlan] = []
        func output(_ entity: YAMLValue, key: YAMLValue?, fields: YAMLValue?, when: YAMLValue?, validate: Bool) {
            guard let en = try? entity.nonEmptyString() else {
                c.note(entity.error("entity must be a name"))
                return
            }
            let canonical = CanonicalEntity(rawValue: en)
            if canonical == nil {
                c.note(
                    entity.error(
                        "unknown entity '\(en)' (known: \(CanonicalEntity.allCases.map(\.rawValue).joined(separator: ", ")))"
                    ))
            }
            guard let key else {
                c.note(entity.error("output '\(en)' needs a 'key'"))
                return
            }
            guard let fields else {
                c.note(entity.error("output '\(en)' needs 'fields'"))
                return
            }
            let plans = c.fields(fields)
            if let canonical {
                let names = Set(plans.map { $0.parts[0] })
                for r in canonical.requiredFields where !names.contains(r) {
                    c.note(fields.error("entity \(en) requires field '\(r)', which this mapping never sets"))
                }
            }
            outputs.append(
                OutputPlan(
                    entity: en, canonical: validate ? canonical : nil, key: c.expr(key).0, fields: plans,
                    when: when.map { c.cond($0) }))
        }
        if let o = m.optional("output") {
            output(o, key: m.optional("key"), fields: m.optional("fields"), when: nil, validate: true)
        } else if let os = m.optional("outputs") {
            for item in c.list(os) {
                guard let om = try? item.mapping() else {
                    c.note(item.error("an output is a mapping"))
                    continue
                }
                for e in om.entries where !LibraryBuilder.outputKeys.contains(e.key) {
                    c.note(YAMLError("unknown output key '\(e.key)'", at: e.keyLocation))
                }
                guard let en = om.optional("entity") else {
                    c.note(item.error("output needs 'entity'"))
                    continue
                }
                output(
                    en, key: om.optional("key"), fields: om.optional("fields"), when: om.optional("when"),
                    validate: om.optional("validate").flatMap { try? $0.bool() } ?? true)
            }
        } else if let f = m.optional("fields") {
            fragmentFields = c.fields(f)  // a fragment: reusable fields for `include:`
        } else {
            c.note(src.yaml.error("a mapping needs 'output' (+ key, fields), 'outputs', or 'fields' (a fragment)"))
        }
        if fragmentFields.isEmpty, let o = outputs.first { fragmentFields = o.fields }
        let dropWhen = m.optional("drop_when").map { c.cond($0) }
        let filter = m.optional("filter").map { c.cond($0) }
        var tests: [MappingTestCase] = []
        if let ts = m.optional("tests") {
            for t in c.list(ts) { if let tc = testCase(t, &c) { tests.append(tc) } }
        }
        problems.append(contentsOf: c.problems)
        let mapping = CompiledMapping(
            name: name, version: String(hash, radix: 16), input: input, file: src.file,
            outputs: outputs, dropWhen: dropWhen, filter: filter, tests: tests, services: c.services)
        let r = (mapping, outputs, fragmentFields, hash)
        done[name] = r
        return r
    }

    func testCase(_ y: YAMLValue, _ c: inout Compiler) -> MappingTestCase? {
        guard let m = try? y.mapping() else {
            c.note(y.error("a test is a mapping"))
            return nil
        }
        let known: Set<String> = [
            "name", "input", "input_json", "lookups", "expect", "expect_keys", "expect_dropped", "expect_error",
        ]
        for e in m.entries where !known.contains(e.key) {
            c.note(YAMLError("unknown test key '\(e.key)'", at: e.keyLocation))
        }
        let name = m.optional("name").flatMap { try? $0.string() } ?? y.path
        var bytes: [UInt8]
        if let raw = m.optional("input_json") {
            bytes = Array(((try? raw.string()) ?? "").utf8)
        } else if let i = m.optional("input") {
            bytes = yamlToJSON(i).jsonBytes()
        } else {
            c.note(y.error("test '\(name)' needs 'input' or 'input_json'"))
            return nil
        }
        let expectation: MappingTestCase.Expectation
        if let e = m.optional("expect_error") {
            expectation = .error((try? e.string()) ?? "")
        } else if m.optional("expect_dropped") != nil {
            expectation = .dropped
        } else if let e = m.optional("expect"), let em = try? e.mapping() {
            var want: [String: JSONValue] = [:]
            for x in em.entries { want[x.key] = yamlToJSON(x.value) }
            var keys: [String: String] = [:]
            if let k = m.optional("expect_keys"), let km = try? k.mapping() {
                for x in km.entries { keys[x.key] = (try? x.value.string()) ?? "" }
            }
            expectation = .records(want, keys: keys)
        } else {
            c.note(y.error("test '\(name)' needs expect (entity → record), expect_dropped or expect_error"))
            return nil
        }
        // `lookups: {SERVICE: {KEY: VALUE}}` stands in for the services the mapping looks up (master data).
        var lookups: [String: [String: JSONValue]] = [:]
        if let l = m.optional("lookups") {
            if let lm = try? l.mapping() {
                for service in lm.entries {
                    guard let entries = try? service.value.mapping() else {
                        c.note(service.value.error("lookups.\(service.key) is a mapping of key → value"))
                        continue
                    }
                    lookups[service.key] = Dictionary(
                        entries.entries.map { ($0.key, yamlToJSON($0.value)) }, uniquingKeysWith: { a, _ in a })
                }
            } else {
                c.note(l.error("'lookups' is a mapping of service → {key: value}"))
            }
        }
        return MappingTestCase(
            name: name, input: bytes, expectation: expectation, lookups: lookups, location: y.location)
    }
}
