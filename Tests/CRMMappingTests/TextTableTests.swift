import CRMModel
import Testing

@testable import CRMMapping

/// ``TextTable`` finds what a dictionary of the same entries finds, scanned (a few entries) or hashed (more).
@Suite("Value map tables")
struct TextTableTests {
    static let keys = [
        "A", "I", "P", "", " A", "a", "é", "e\u{301}", "ﬁ", "fi", "gold", "Ω", "\u{2126}", "long key of many bytes",
    ]

    @Test("scanned and hashed tables find what the dictionary finds", arguments: [0, 1, 3, 8, 9, 14])
    func sameAsDictionary(_ size: Int) {
        // "e\u{301}" and "é" (also "Ω" and "\u{2126}") are one key to a dictionary: the later entry is left out.
        var dictionary: [String: JSONValue] = [:]
        for (k, key) in Self.keys.prefix(size).enumerated() where dictionary[key] == nil {
            dictionary[key] = .string("value \(k)")
        }
        let table = TextTable(dictionary)
        for key in Self.keys + ["missing", "AA", "e"] {
            #expect(table.value(for: key) == dictionary[key], "\(Array(key.utf8)) in a table of \(size)")
        }
    }

    @Test("a map step gives its table's value, the fallback, or the strict failure")
    func mapStep() throws {
        let ev = Evaluator(root: .object([]), lookup: nil)
        let small = MapStep(["A": "active", "é": "accent"], fallback: nil, strict: true)
        #expect(try small.apply(ev, "A") == "active")
        #expect(try small.apply(ev, .string("e\u{301}")) == "accent")
        #expect(throws: FieldFailure.self) { try small.apply(ev, "B") }
        var many: [String: JSONValue] = [:]
        for k in 0..<20 { many["k\(k)"] = .number(String(k)) }
        let large = MapStep(many, fallback: "other", strict: false)
        #expect(try large.apply(ev, "k13") == .number("13"))
        #expect(try large.apply(ev, "k20") == "other")
    }
}
