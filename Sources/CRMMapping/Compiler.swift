import CRMModel
import CRMNormalize
import CRMYAML
import Foundation
import Yams

/// Turns one mapping file's YAML into an executable plan, collecting every problem with its location.
struct Compiler {
    let file: String
    let directory: String
    /// Compiles a referenced mapping's fields (for `include:`); returns nil and records a problem when unknown.
    let resolveInclude: (String, YAMLValue) -> [FieldPlan]?
    var tables: [String: [String: JSONValue]] = [:]
    var problems: [YAMLError] = []
    /// The `lookup: {service: NAME}` services the compiled fields use.
    var services: Set<String> = []

    static let fieldKeys: Set<String> = [
        "path", "const", "concat", "separator", "first", "each", "fields", "value",
        "filter", "when", "then", "else", "fn", "map", "map_default", "strict", "lookup", "default", "required",
        "omit_null", "include", "at",
    ]

    mutating func note(_ e: YAMLError) { problems.append(e) }

    /// Compiles a value expression; returns its static type.
    mutating func expr(_ y: YAMLValue) -> (Expr, VType) {
        if case .scalar = y.node {
            guard let text = try? y.string(), let p = Path.parse(text) else {
                note(y.error("invalid path '\((try? y.string()) ?? "")' (use a.b[0].c, or {const: ...} for a literal)"))
                return (.const(.null), .any)
            }
            return (.path(p), .any)
        }
        guard let m = try? y.mapping() else {
            note(y.error("a field must be a path or a mapping, found \(y.kindName)"))
            return (.const(.null), .any)
        }
        for e in m.entries where !Compiler.fieldKeys.contains(e.key) {
            note(
                YAMLError(
                    "\(e.value.path): unknown key '\(e.key)' (known: \(Compiler.fieldKeys.sorted().joined(separator: ", ")))",
                    at: e.keyLocation))
        }
        var base: Expr? = nil
        var type: VType = .any
        let present = Set(m.entries.map(\.key))
        var sources = ["path", "const", "concat", "first", "each", "when", "fields", "include"].filter {
            present.contains($0)
        }
        if present.contains("each") { sources.removeAll { $0 == "fields" } }
        if sources.count > 1 {
            note(y.error("a field has exactly one source, found \(sources.joined(separator: " and "))"))
        }
        if let v = m.optional("path") {
            let t = (try? v.string()) ?? ""
            if let p = Path.parse(t) { base = .path(p) } else { note(v.error("invalid path '\(t)'")) }
        } else if let v = m.entries.first(where: { $0.key == "const" })?.value {
            let j = yamlToJSON(v)
            base = .const(j)
            type = staticType(j)
        } else if let v = m.optional("concat") {
            let sep = m.optional("separator").flatMap { try? $0.string() } ?? ""
            base = .concat(list(v).map { expr($0).0 }, separator: sep)
            type = .string
        } else if let v = m.optional("first") {
            base = .first(list(v).map { expr($0).0 })
        } else if let v = m.optional("each") {
            let t = (try? v.string()) ?? ""
            guard let p = Path.parse(t) else {
                note(v.error("invalid path '\(t)'"))
                return (.const(.null), .any)
            }
            let filter = m.optional("filter").map { cond($0) }
            if let fy = m.optional("fields") {
                base = .each(p, fields: fields(fy), filter: filter, value: nil)
            } else if let vy = m.optional("value") {
                base = .each(p, fields: [], filter: filter, value: expr(vy).0)
            } else {
                note(y.error("'each' needs 'fields' (objects) or 'value' (one value per item)"))
            }
            type = .array
        } else if let v = m.optional("when") {
            let c = cond(v)
            guard let t = m.optional("then") else {
                note(y.error("'when' needs 'then'"))
                return (.const(.null), .any)
            }
            base = .when(c, then: expr(t).0, otherwise: m.optional("else").map { expr($0).0 })
        } else if let v = m.optional("fields") {
            base = .object(fields(v))
            type = .object
        } else if let v = m.optional("include") {
            let name = (try? v.string()) ?? ""
            if let inc = resolveInclude(name, v) {
                var e = Expr.object(inc)
                if let at = m.optional("at") {
                    let t = (try? at.string()) ?? ""
                    if let p = Path.parse(t) {
                        e = .scoped(p, .object(inc))
                    } else {
                        note(at.error("invalid path '\(t)'"))
                    }
                }
                base = e
            }
            type = .object
        }
        guard let source = base else {
            if sources.isEmpty {
                note(y.error("a field needs a source: path, const, concat, first, each, when, fields or include"))
            }
            return (.const(.null), .any)
        }
        var steps: [Step] = []
        if let f = m.optional("fn") {
            for item in (f.isSequence ? list(f) : [f]) {
                guard let (fn, loc) = function(item) else { continue }
                if !fn.input.accepts(type) {
                    note(
                        YAMLError(
                            "\(item.path): function '\(fn.name)' expects \(fn.input.rawValue) but receives \(type.rawValue)",
                            at: loc))
                }
                steps.append(.fn(fn))
                type = fn.output
            }
        }
        if let mv = m.optional("map") {
            var table: [String: JSONValue] = [:]
            if let mm = try? mv.mapping() {
                for e in mm.entries { table[e.key] = yamlToJSON(e.value) }
            } else {
                note(mv.error("'map' must be a mapping of input value → output value"))
            }
            let strict = m.optional("strict").flatMap { try? $0.bool() } ?? true
            steps.append(.map(table, fallback: m.optional("map_default").map(yamlToJSON), strict: strict))
            type = table.values.first.map(staticType) ?? .any
        }
        if let lv = m.optional("lookup") {
            if let name = try? lv.string(), case .scalar = lv.node {
                if let t = tables[name] {
                    steps.append(
                        .table(name: name, t, strict: m.optional("strict").flatMap { try? $0.bool() } ?? false))
                } else {
                    note(lv.error("unknown table '\(name)' (declare it under 'tables:')"))
                }
            } else if let lm = try? lv.mapping(), let svc = lm.optional("service"), let name = try? svc.nonEmptyString()
            {
                for e in lm.entries where e.key != "service" && e.key != "optional" {
                    note(YAMLError("unknown lookup key '\(e.key)' (service, optional)", at: e.keyLocation))
                }
                let optional = lm.optional("optional").flatMap { try? $0.bool() } ?? false
                steps.append(.service(name, optional: optional))
                services.insert(name)
            } else {
                note(lv.error("'lookup' is a table name or {service: NAME}"))
            }
            type = .any
        }
        if let d = m.optional("default") { steps.append(.fallback(yamlToJSON(d))) }
        return (steps.isEmpty ? source : .pipe(source, steps), type)
    }

    mutating func function(_ item: YAMLValue) -> (Fn, SourceLocation)? {
        var name = ""
        var arg: YAMLValue? = nil
        if case .scalar = item.node {
            name = (try? item.string()) ?? ""
        } else if let m = try? item.mapping(), m.entries.count == 1 {
            name = m.entries[0].key
            arg = m.entries[0].value
        } else {
            note(item.error("a function is a name or {name: argument}"))
            return nil
        }
        func need() -> YAMLValue? {
            if arg == nil { note(item.error("function '\(name)' needs an argument")) }
            return arg
        }
        func str() -> String? {
            guard let a = need() else { return nil }
            if let s = try? a.string() { return s }
            note(a.error("expected text"))
            return nil
        }
        func int(_ r: ClosedRange<Int>) -> Int? {
            guard let a = need() else { return nil }
            do { return try a.int(in: r) } catch {
                note(error)
                return nil
            }
        }
        let fn: Fn?
        switch name {
        case "trim": fn = .trim
        case "lower": fn = .lower
        case "upper": fn = .upper
        case "name": fn = .name
        case "email": fn = .email
        case "phone":
            if let r = str() {
                if CRMNormalizeRegions.known(r) {
                    fn = .phone(region: r.uppercased())
                } else {
                    note(arg!.error("unknown phone region '\(r)'"))
                    fn = nil
                }
            } else {
                fn = nil
            }
        case "split": fn = str().map { .split($0) }
        case "join": fn = str().map { .join($0) }
        case "replace":
            if let a = need(), let parts = try? a.sequence(), parts.count == 2, let x = try? parts[0].string(),
                let y = try? parts[1].string()
            {
                fn = .replace(x, y)
            } else {
                if arg != nil { note(arg!.error("replace takes [from, to]")) }
                fn = nil
            }
        case "regex":
            if let p = str() {
                do { fn = .regexExtract(RegexBox(regex: try Regex(p), pattern: p)) } catch {
                    note(arg!.error("invalid regular expression: \(error)"))
                    fn = nil
                }
            } else {
                fn = nil
            }
        case "string": fn = .string
        case "int": fn = .int
        case "number": fn = .number
        case "decimal": fn = int(0...18).map { .decimal(scale: $0) }
        case "minor_units": fn = arg == nil ? .minorUnits(exponent: 2) : int(0...8).map { .minorUnits(exponent: $0) }
        case "date":
            let m = arg.flatMap { try? $0.mapping() }
            if arg != nil && m == nil { note(arg!.error("date takes {from, to, tz}")) }
            let from = m?.optional("from").flatMap { try? $0.string() } ?? "rfc3339"
            let to = m?.optional("to").flatMap { try? $0.string() } ?? "rfc3339"
            let tz = m?.optional("tz").flatMap { try? $0.string() } ?? "UTC"
            do { fn = .date(try DateSpec(from: from, to: to, zone: tz)) } catch {
                note((arg ?? item).error(error.message))
                fn = nil
            }
        case "prefix": fn = str().map { .prefix($0) }
        case "suffix": fn = str().map { .suffix($0) }
        case "list": fn = .list
        case "compact": fn = .compact
        case "first": fn = .firstItem
        case "last": fn = .lastItem
        case "length": fn = .length
        case "non_empty": fn = .nonEmpty
        case "bool": fn = .bool
        case "abs": fn = .abs
        case "negate": fn = .negate
        default:
            note(item.error("unknown function '\(name)' (known: \(Compiler.functionNames.joined(separator: ", ")))"))
            fn = nil
        }
        return fn.map { ($0, item.location) }
    }

    static let functionNames = [
        "abs", "bool", "compact", "date", "decimal", "email", "first", "int", "join", "last", "length",
        "list", "lower", "minor_units", "name", "negate", "non_empty", "number", "phone", "prefix", "regex", "replace",
        "split", "string", "suffix", "trim", "upper",
    ]

    mutating func cond(_ y: YAMLValue) -> Cond {
        guard let m = try? y.mapping() else {
            note(y.error("a condition is a mapping like {path: x, equals: v}"))
            return .all([])
        }
        let known = Set(
            ["path", "value", "equals", "in", "matches", "exists", "all", "any", "not"]
                + Comparison.allCases.map(\.rawValue))
        for e in m.entries where !known.contains(e.key) {
            note(
                YAMLError(
                    "\(e.value.path): unknown condition key '\(e.key)' (known: \(known.sorted().joined(separator: ", ")))",
                    at: e.keyLocation))
        }
        if let a = m.optional("all") { return .all(list(a).map { cond($0) }) }
        if let a = m.optional("any") { return .any(list(a).map { cond($0) }) }
        if let a = m.optional("not") { return .not(cond(a)) }
        var subject: Expr = .const(.null)
        if let p = m.optional("path") {
            let t = (try? p.string()) ?? ""
            if let path = Path.parse(t) { subject = .path(path) } else { note(p.error("invalid path '\(t)'")) }
        } else if let v = m.optional("value") {
            subject = expr(v).0
        } else {
            note(y.error("a condition needs 'path' or 'value'"))
        }
        if let e = m.optional("equals") { return .equals(subject, yamlToJSON(e)) }
        if let e = m.optional("in") { return .oneOf(subject, list(e).map(yamlToJSON)) }
        if let e = m.optional("matches") {
            let p = (try? e.string()) ?? ""
            do { return .matches(subject, RegexBox(regex: try Regex(p), pattern: p)) } catch {
                note(e.error("invalid regular expression: \(error)"))
            }
        }
        if let e = m.optional("exists") {
            let want = (try? e.bool()) ?? true
            return want ? .exists(subject) : .not(.exists(subject))
        }
        let comparisons = Comparison.allCases.compactMap { op in m.optional(op.rawValue).map { (op, $0) } }
        if !comparisons.isEmpty {
            let tests = comparisons.map { op, bound -> Cond in
                guard let number = try? bound.double() else {
                    note(bound.error("'\(op.rawValue)' needs a number"))
                    return .all([])
                }
                return .compare(subject, op, number)
            }
            return tests.count == 1 ? tests[0] : .all(tests)
        }
        note(y.error("a condition needs equals, in, matches, exists, at_least, at_most, above or below"))
        return .all([])
    }

    mutating func fields(_ y: YAMLValue) -> [FieldPlan] {
        guard let m = try? y.mapping() else {
            note(y.error("'fields' must be a mapping of output field → source"))
            return []
        }
        var out: [FieldPlan] = []
        for e in m.entries {
            let parts = e.key.split(separator: ".").map(String.init)
            if parts.isEmpty || parts.contains(where: { $0.isEmpty }) {
                note(YAMLError("invalid output field name '\(e.key)'", at: e.keyLocation))
                continue
            }
            let (x, _) = expr(e.value)
            let fm = try? e.value.mapping()
            let required = fm?.optional("required").flatMap { try? $0.bool() } ?? false
            let omit = fm?.optional("omit_null").flatMap { try? $0.bool() } ?? true
            out.append(FieldPlan(name: e.key, parts: parts, expr: x, required: required, omitNull: omit))
        }
        return out
    }

    mutating func loadTables(_ y: YAMLValue) {
        guard let m = try? y.mapping() else {
            note(y.error("'tables' must map table names to a CSV file or an inline mapping"))
            return
        }
        for e in m.entries {
            if let inline = try? e.value.mapping() {
                var t: [String: JSONValue] = [:]
                for r in inline.entries { t[r.key] = yamlToJSON(r.value) }
                tables[e.key] = t
            } else if let f = try? e.value.string() {
                let path = f.hasPrefix("/") ? f : directory + "/" + f
                guard let data = FileManager.default.contents(atPath: path),
                    let text = String(data: data, encoding: .utf8)
                else {
                    note(e.value.error("cannot read table file '\(path)'"))
                    continue
                }
                var t: [String: JSONValue] = [:]
                for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
                    let cols = line.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
                    if n == 0 && cols.first?.trimmingCharacters(in: .whitespaces) == "key" { continue }
                    guard cols.count == 2 else {
                        note(
                            YAMLError(
                                "table row must be 'key,value'", at: SourceLocation(file: path, line: n + 1, column: 1))
                        )
                        continue
                    }
                    t[cols[0].trimmingCharacters(in: .whitespaces)] = .string(
                        cols[1].trimmingCharacters(in: .whitespaces))
                }
                tables[e.key] = t
            } else {
                note(e.value.error("a table is a CSV file name or an inline mapping"))
            }
        }
    }

    mutating func list(_ y: YAMLValue) -> [YAMLValue] {
        if let s = try? y.sequence() { return s }
        note(y.error("expected a list, found \(y.kindName)"))
        return []
    }

    func staticType(_ j: JSONValue) -> VType {
        switch j {
        case .string: .string
        case .number: .number
        case .bool: .bool
        case .array: .array
        case .object: .object
        case .null: .any
        }
    }
}

/// Region codes known to the phone normaliser (checked at compile time).
enum CRMNormalizeRegions {
    static func known(_ r: String) -> Bool { (try? CRMNormalizeProbe.e164(r)) != nil }
}

enum CRMNormalizeProbe {
    static func e164(_ region: String) throws -> Bool {
        do {
            _ = try PhoneNumber.e164("+1 415 555 2671", defaultRegion: region)
            return true
        } catch {
            if error.reason.hasPrefix("unknown default region") { throw error }
            return true
        }
    }
}

extension YAMLValue {
    var isSequence: Bool {
        if case .sequence = node { return true }
        return false
    }
}

/// Converts YAML to JSON: quoted scalars are strings; plain scalars resolve to null, booleans and numbers.
func yamlToJSON(_ y: YAMLValue) -> JSONValue {
    switch y.node {
    case .scalar(let s):
        if s.style != .plain { return .string(s.string) }
        switch s.string {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default:
            if let v = try? JSONValue.parse(s.string), case .number = v { return v }
            return .string(s.string)
        }
    case .mapping:
        guard let m = try? y.mapping() else { return .null }
        return .object(m.entries.map { ($0.key, yamlToJSON($0.value)) })
    case .sequence:
        return .array(((try? y.sequence()) ?? []).map(yamlToJSON))
    case .alias:
        return .null
    }
}
