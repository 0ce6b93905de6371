import CRMModel
import Foundation
import Testing

@Suite("JSONValue parser and encoder")
struct JSONValueTests {
    @Test("strings are written with exactly the escapes of the byte-by-byte rule (20 000 random strings)")
    func stringEscapes() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let pieces = [
            "a", "Z", " ", "\"", "\\", "\n", "\t", "\r", "\u{01}", "\u{1F}", "\u{7F}", "é", "😀", "0", "~", "/",
        ]
        for _ in 0..<20_000 {
            let s = (0..<next(40)).map { _ in pieces[next(pieces.count)] }.joined()
            var want: [UInt8] = [0x22]
            for b in s.utf8 {
                switch b {
                case 0x22: want += [0x5C, 0x22]
                case 0x5C: want += [0x5C, 0x5C]
                case 0x0A: want += Array("\\n".utf8)
                case 0x0D: want += Array("\\r".utf8)
                case 0x09: want += Array("\\t".utf8)
                case ..<0x20: want += Array(String(format: "\\u%04x", b).utf8)
                default: want.append(b)
                }
            }
            want.append(0x22)
            #expect(JSONValue.string(s).jsonBytes() == want, "\(Array(s.utf8))")
        }
    }

    @Test("round-trips documents and keeps number text")
    func roundTrip() throws {
        let text = #"{"a":[1,-2.50,3e2,true,false,null],"b":{"c":"x\"y\\z\n\u00e9\ud83d\ude00"},"d":""}"#
        let v = try JSONValue.parse(text)
        #expect(v["a"]?[1] == .number("-2.50"))
        #expect(v["b"]?["c"]?.stringValue == "x\"y\\z\né😀")
        #expect(try JSONValue.parse(v.jsonBytes()) == v)
    }

    @Test(
        "rejects malformed documents with offsets",
        arguments: [
            "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"abc", "tru", "{\"a\":1}x", "\"\\x\"", "\"\\ud800\"",
            "[1 2]",
            "{\"a\":\"\u{01}\"}",
        ])
    func malformed(text: String) {
        #expect(throws: JSONError.self) { try JSONValue.parse(text) }
    }

    @Test(
        "invalid UTF-8 is a typed error",
        arguments: [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xE0, 0x80, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
        ] as [[UInt8]])
    func invalidUTF8(bytes: [UInt8]) {
        do {
            _ = try JSONValue.parse(bytes)
            Issue.record("accepted invalid UTF-8")
        } catch { #expect(error.kind == .invalidUTF8) }
    }

    @Test("depth and size limits")
    func limits() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        do {
            _ = try JSONValue.parse(deep)
            Issue.record("accepted depth 100")
        } catch { #expect(error.kind == .tooDeep) }
        #expect((try? JSONValue.parse(deep, limits: JSONLimits(maxDepth: 200))) != nil)
        let big = Array(repeating: UInt8(ascii: " "), count: 2000) + Array("1".utf8)
        do {
            _ = try JSONValue.parse(big, limits: JSONLimits(maxBytes: 1000))
            Issue.record("accepted")
        } catch { #expect(error.kind == .tooLarge) }
    }
}

@Suite("Canonical entities")
struct CanonicalEntityTests {
    @Test("valid customer passes, broken one lists every problem")
    func customer() throws {
        let ok = try JSONValue.parse(
            #"{"id":"c1","kind":"person","displayName":"A B","phones":["+442079460018"],"emails":["a@b.example"]}"#)
        #expect(CanonicalEntity.customer.validate(ok).isEmpty)
        let bad = try JSONValue.parse(#"{"id":"","kind":"robot","phones":["0207"]}"#)
        let problems = CanonicalEntity.customer.validate(bad)
        #expect(problems.count == 4)
    }

    @Test("every problem is reported in rule order with its exact text, from the tree and from members in memory")
    func customerProblems() throws {
        let bad = try JSONValue.parse(
            #"{"id":"","kind":"robot","phones":["0207",7,"+44207946001"],"emails":["x","a@b",null]}"#)
        let expected = [
            "required field 'id' is empty", "required field 'displayName' is missing",
            #"field 'kind' must be one of organisation|person, found "robot""#,
            #"field 'phones' entries must be E.164 numbers, found "0207""#,
            "field 'phones' entries must be E.164 numbers, found 7",
            #"field 'emails' entries must be e-mail addresses, found "x""#,
            "field 'emails' entries must be e-mail addresses, found null",
        ]
        let entity = CanonicalEntity.customer
        #expect(entity.validate(bad) == expected)
        let members = entity.validatedFieldList.map { bad[$0] }
        #expect(members.withUnsafeBufferPointer { entity.validate(members: $0) } == expected)
        #expect(
            entity.validate(try JSONValue.parse(#"{"id":"c","kind":null,"displayName":"D","phones":"+4420"}"#))
                == ["required field 'kind' is missing"])
    }

    @Test("a payment status names an order or an invoice")
    func paymentStatus() throws {
        let entity = CanonicalEntity.paymentStatus
        #expect(entity.validate(try JSONValue.parse(#"{"status":"paid","orderRef":"SO-1"}"#)).isEmpty)
        #expect(entity.validate(try JSONValue.parse(#"{"status":"paid","invoiceRef":"in_1"}"#)).isEmpty)
        #expect(
            entity.validate(try JSONValue.parse(#"{"status":"paid","orderRef":"","paymentRef":"pi_1"}"#))
                == ["one of the fields 'orderRef', 'invoiceRef' is required"])
    }

    @Test("order amounts must be decimal strings and currency ISO 4217")
    func order() throws {
        let bad = try JSONValue.parse(#"{"id":"o","customerRef":"c","currency":"eur","total":12.5,"status":"paid"}"#)
        #expect(CanonicalEntity.order.validate(bad).count == 2)
    }

    @Test("interaction timestamps are RFC 3339")
    func interaction() throws {
        let v = try JSONValue.parse(#"{"id":"i","type":"call","direction":"inbound","startedAt":"2026-01-01 10:00"}"#)
        #expect(
            CanonicalEntity.interaction.validate(v) == [
                #"field 'startedAt' must be an RFC 3339 timestamp, found "2026-01-01 10:00""#
            ])
    }
}

@Suite("JSON encoder escapes")
struct JSONEncoderTests {
    /// The encoder's definition: `"`, `\` and control characters escaped, everything else copied.
    func reference(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u00" + (hex.count == 1 ? "0" : "") + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    @Test(
        "strings are escaped like the reference and parse back",
        arguments: [
            "", "plain", "quote\"in", "back\\slash", "line\nfeed\r\n\ttab", "\u{01}\u{1F}\u{7F}", "müller 😀 \u{2028}",
            String(repeating: "long text without escapes ", count: 20) + "\"",
        ])
    func escapes(text: String) throws {
        let encoded = JSONValue.string(text).jsonText
        #expect(encoded == reference(text))
        #expect(try JSONValue.parse(encoded) == .string(text))
    }

    @Test("objects, arrays and literals encode compactly in member order")
    func compact() throws {
        let v: JSONValue = ["b": [1, true, false, nil, "x"], "a": ["c": .number("-1.50")], "é": ""]
        #expect(v.jsonText == #"{"b":[1,true,false,null,"x"],"a":{"c":-1.50},"é":""}"#)
        #expect(try JSONValue.parse(v.jsonText) == v)
    }

    @Test("non-ASCII strings without escapes are read as they are, invalid UTF-8 inside them is rejected")
    func unicodeStrings() throws {
        #expect(try JSONValue.parse(#"{"n":"garcía müller 😀"}"#)["n"] == "garcía müller 😀")
        #expect(throws: JSONError.self) { try JSONValue.parse([0x22, 0x61, 0xC3, 0x28, 0x22]) }
    }

    /// Documents made of pieces around the names of a member-name table: exact names, near misses (one byte off, one
    /// byte longer or shorter), escaped and non-ASCII names, names right at the end of the input.
    static func memberNameDocuments() -> [[UInt8]] {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let keys = [
            "id", "i", "ie", "id2", "email", "emaiL", "first_name", "first_namf", "lifetime_value", "lifetime_valuex",
            "a_name_of_16_byt", "a_name_of_17_byte", "m\\u00fcller", "müller", "tab\\tname", "", "x", "postcode",
            "postcodf", "p\\u006fstcode", "name_of_9", "name_of_15_byte", "name_of_15_bytf", "seven_7",
        ]
        let values = ["1", "\"v\"", "{\"email\":2}", "[\"id\"]", "null", "\"\\\"q\"", "\"é\"", "{}"]
        var docs: [[UInt8]] = []
        for _ in 0..<5_000 {
            let members = (0..<next(5)).map { _ in "\"\(keys[next(keys.count)])\":\(values[next(values.count)])" }
            var text = "{" + members.joined(separator: ",") + "}"
            // Cut some documents short, so that names end near the end of the input.
            if next(4) == 0 {
                text = String(decoding: Array(text.utf8).prefix(next(text.utf8.count + 1)), as: UTF8.self)
            }
            docs.append(Array(text.utf8))
        }
        return docs
    }

    @Test("parsing with a member-name table gives the same values and errors as without (5 000 documents)")
    func memberNames() {
        let table = JSONMemberNames([
            "id", "email", "first_name", "lifetime_value", "a_name_of_16_byt", "a_name_of_17_byte", "müller", "x",
        ])
        for doc in Self.memberNameDocuments() {
            let plain = Result { () throws(JSONError) -> JSONValue in try JSONValue.parse(doc) }
            let named = Result { () throws(JSONError) -> JSONValue in
                try JSONValue.parse(doc, memberNames: table)
            }
            switch (plain, named) {
            case (.success(let a), .success(let b)):
                #expect(a.jsonBytes() == b.jsonBytes(), "\(String(decoding: doc, as: UTF8.self))")
            case (.failure(let a), .failure(let b)):
                #expect(a == b, "\(String(decoding: doc, as: UTF8.self))")
            default:
                Issue.record("outcomes differ for \(String(decoding: doc, as: UTF8.self))")
            }
        }
    }

    @Test("the root-member index names each table name's last root member (5 000 documents, escaped names too)")
    func rootMemberIndex() {
        let names = ["id", "email", "first_name", "lifetime_value", "a_name_of_16_byt", "müller", "x", "tab\tname"]
        let table = JSONMemberNames(names)
        for doc in Self.memberNameDocuments() + [Array(#"[{"id":1}]"#.utf8), Array(#"{"x":{"id":1},"x":2}"#.utf8)] {
            var index: [Int] = []
            let indexed = Result { () throws(JSONError) -> JSONValue in
                try JSONValue.parse(doc, memberNames: table, rootMembers: &index)
            }
            let plain = Result { () throws(JSONError) -> JSONValue in try JSONValue.parse(doc) }
            switch (plain, indexed) {
            case (.success(let a), .success(let b)):
                #expect(a.jsonBytes() == b.jsonBytes())
                #expect(index.count == table.count)
                let members = a.objectMembers ?? []
                for name in names {
                    guard let entry = table.index(of: name) else { continue }
                    let expected = members.lastIndex { $0.0 == name } ?? -1
                    #expect(index[entry] == expected, "\(name) in \(String(decoding: doc, as: UTF8.self))")
                }
            case (.failure(let a), .failure(let b)):
                #expect(a == b)
            default:
                Issue.record("outcomes differ for \(String(decoding: doc, as: UTF8.self))")
            }
        }
    }

    /// `doc` parsed into one value per entry of `table` (``JSONValue/parse(_:limits:memberNames:rootValues:)``): the
    /// values, and what the parse returned (the whole document when it is not an object) or threw.
    static func rootValues(of doc: [UInt8], table: JSONMemberNames) -> ([JSONValue?], Result<JSONValue?, JSONError>) {
        var values = [JSONValue?](repeating: nil, count: table.count)
        let read = Result { () throws(JSONError) -> JSONValue? in
            try values.withUnsafeMutableBufferPointer { (buffer) throws(JSONError) -> JSONValue? in
                try JSONValue.parse(doc, memberNames: table, rootValues: buffer)
            }
        }
        return (values, read)
    }

    @Test("root values hold each table name's last root member, errors as without (5 000 documents, escaped names)")
    func rootValues() {
        let names = [
            "id", "email", "first_name", "lifetime_value", "a_name_of_16_byt", "müller", "x", "tab\tname", "postcode",
            "name_of_9", "name_of_15_byte", "seven_7",
        ]
        let table = JSONMemberNames(names)
        let extra = [#"[{"id":1}]"#, #"{"x":{"id":1},"x":2}"#, #"{}"#, #"null"#, #"{"t\u0061b\tname":3,"id":[]}"#]
        let docs = Self.memberNameDocuments() + extra.map { Array($0.utf8) }
        for doc in docs {
            let (values, read) = Self.rootValues(of: doc, table: table)
            let plain = Result { () throws(JSONError) -> JSONValue in try JSONValue.parse(doc) }
            switch (plain, read) {
            case (.success(.object(let members)), .success(let whole)):
                #expect(whole == nil)
                for name in names {
                    guard let entry = table.index(of: name) else { continue }
                    let expected = members.last { $0.0 == name }?.1
                    #expect(
                        values[entry]?.jsonBytes() == expected?.jsonBytes(),
                        "\(name) in \(String(decoding: doc, as: UTF8.self))")
                }
            case (.success(let a), .success(let whole)):
                #expect(whole?.jsonBytes() == a.jsonBytes())
                #expect(values.allSatisfy { $0 == nil })
            case (.failure(let a), .failure(let b)):
                #expect(a == b)
            default:
                Issue.record("outcomes differ for \(String(decoding: doc, as: UTF8.self))")
            }
        }
    }

    /// `doc` parsed into one value or text range per entry of `table`
    /// (``JSONValue/parse(_:limits:memberNames:rootValues:rootTexts:)``), each made a value (a text as its string):
    /// the values, and what the parse returned or threw.
    static func rootValuesAndTexts(
        of doc: [UInt8], table: JSONMemberNames
    ) -> ([JSONValue?], Result<JSONValue?, JSONError>) {
        var values = [JSONValue?](repeating: nil, count: table.count)
        var texts = [Range<Int>](repeating: JSONValue.noRootText, count: table.count)
        let read = Result { () throws(JSONError) -> JSONValue? in
            try values.withUnsafeMutableBufferPointer { (values) throws(JSONError) -> JSONValue? in
                try texts.withUnsafeMutableBufferPointer { (texts) throws(JSONError) -> JSONValue? in
                    try JSONValue.parse(doc, memberNames: table, rootValues: values, rootTexts: texts)
                }
            }
        }
        for k in values.indices where texts[k].lowerBound >= 0 {
            #expect(values[k] == nil)
            values[k] = .string(String(decoding: doc[texts[k]], as: UTF8.self))
        }
        return (values, read)
    }

    @Test("root texts: plain strings kept as byte ranges give the root values' strings, errors as without")
    func rootTexts() {
        let names = [
            "id", "email", "first_name", "lifetime_value", "a_name_of_16_byt", "müller", "x", "tab\tname", "postcode",
            "name_of_9", "name_of_15_byte", "seven_7", "other",
        ]
        let table = JSONMemberNames(names)
        let extra = [
            #"[{"id":1}]"#, #"{"x":{"id":1},"x":2}"#, #"{}"#, #"null"#, #"{"t\u0061b\tname":3,"id":[]}"#,
            #"{"x":"a","x":1}"#, #"{"x":1,"x":"a"}"#, #"{"x":"a\"b","x":"c"}"#, #"{"x":"c","x":"a\"b"}"#,
            #"{"x":"","id":"é😀"}"#, #"{"x":"\u00e9"}"#, #"{"x":"bad \x"}"#, "{\"x\":\"raw\u{01}\"}",
            #"{"x":"unterminated"#,
        ]
        var docs = Self.memberNameDocuments() + extra.map { Array($0.utf8) }
        for bad: UInt8 in [0x80, 0xC0, 0xE0, 0xF5, 0xFF] {
            docs.append(Array(#"{"x":"ab"#.utf8) + [bad] + Array(#"cd","id":2}"#.utf8))
        }
        for doc in docs {
            let (values, read) = Self.rootValues(of: doc, table: table)
            let (made, readTexts) = Self.rootValuesAndTexts(of: doc, table: table)
            switch (read, readTexts) {
            case (.success(let a), .success(let b)):
                #expect(a?.jsonBytes() == b?.jsonBytes())
                #expect(
                    values.map { $0?.jsonBytes() } == made.map { $0?.jsonBytes() },
                    "\(String(decoding: doc, as: UTF8.self))")
            case (.failure(let a), .failure(let b)):
                #expect(a == b)
            default:
                Issue.record("outcomes differ for \(String(decoding: doc, as: UTF8.self))")
            }
        }
    }

    @Test(
        "nested members in slots: the last root member's last member of each name, errors as without (4 000 documents)")
    func nestedMembers() {
        let table = JSONMemberNames(["address", "street", "city", "id", "x"])
        let entry = { (name: String) in table.index(of: name)! }
        let nested = JSONNestedMembers(
            nameCount: table.count,
            slots: [(entry("address"), entry("street")), (entry("address"), entry("city")), (entry("x"), entry("id"))])
        let slotNames = [("address", "street"), ("address", "city"), ("x", "id")]
        var state: UInt64 = 7
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let inner = [
            #""street":"1 High St ""#, #""city":"london""#, #""city":"l\u00f6n""#, #""street":null"#, #""zip":"x""#,
            #""city":{"a":[1,{"b":2}]}"#, #""st\u0072eet":"esc""#, #""street":"raw\#u{01}""#, #""city":"é""#,
            #""id":3"#, #""other":"skip \" me""#, #""street":"""#,
        ]
        let values = ["1", "\"v\"", "null", "[]", "{}", "\"a\\\"b\""]
        var docs: [[UInt8]] = []
        for _ in 0..<4_000 {
            let members = (0..<next(5)).map { _ -> String in
                let name = ["address", "x", "id", "y"][next(4)]
                let value =
                    next(3) == 0
                    ? values[next(values.count)]
                    : "{" + (0..<next(4)).map { _ in inner[next(inner.count)] }.joined(separator: ",") + "}"
                return "\"\(name)\":\(value)"
            }
            var text = "{" + members.joined(separator: ",") + "}"
            if next(5) == 0 {
                text = String(decoding: Array(text.utf8).prefix(next(text.utf8.count + 1)), as: UTF8.self)
            }
            docs.append(Array(text.utf8))
        }
        for doc in docs {
            let limits = JSONLimits(maxDepth: [1, 2, 3, 64][next(4)])
            var values = [JSONValue?](repeating: nil, count: table.count + nested.count)
            var texts = [Range<Int>](repeating: JSONValue.noRootText, count: table.count + nested.count)
            let read = Result { () throws(JSONError) -> JSONValue? in
                try values.withUnsafeMutableBufferPointer { (values) throws(JSONError) -> JSONValue? in
                    try texts.withUnsafeMutableBufferPointer { (texts) throws(JSONError) -> JSONValue? in
                        try JSONValue.parse(
                            doc, limits: limits, memberNames: table, rootValues: values, rootTexts: texts,
                            nested: nested)
                    }
                }
            }
            for k in values.indices where texts[k].lowerBound >= 0 {
                values[k] = .string(String(decoding: doc[texts[k]], as: UTF8.self))
            }
            let plain = Result { () throws(JSONError) -> JSONValue in try JSONValue.parse(doc, limits: limits) }
            let text = String(decoding: doc, as: UTF8.self)
            switch (plain, read) {
            case (.success(.object(let members)), .success(let whole)):
                #expect(whole == nil)
                #expect(values[entry("id")]?.jsonBytes() == members.last { $0.0 == "id" }?.1.jsonBytes(), "\(text)")
                for (k, (root, member)) in slotNames.enumerated() {
                    let expected = members.last { $0.0 == root }?.1[member]
                    #expect(
                        values[table.count + k]?.jsonBytes() == expected?.jsonBytes(), "\(root).\(member) in \(text)")
                }
                // The members read by slot are not kept whole.
                #expect(values[entry("address")] == nil && values[entry("x")] == nil)
            case (.success(let a), .success(let whole)):
                #expect(whole?.jsonBytes() == a.jsonBytes())
            case (.failure(let a), .failure(let b)):
                #expect(a == b, "\(text)")
            default:
                Issue.record("outcomes differ for \(text)")
            }
        }
    }

    @Test("text lists: root arrays of plain strings kept as item ranges give the arrays, errors as without")
    func textLists() {
        let table = JSONMemberNames(["tags", "id", "x"])
        let tags = table.index(of: "tags")!
        let lists = JSONTextLists(nameCount: table.count, entries: [tags])
        var state: UInt64 = 11
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let items = [
            #""VIP""#, #"" b2b ""#, #""""#, #""é""#, #""a\"b""#, #""\u00fc""#, "1", "null", "[]", #"["x"]"#, "{}",
            "\"raw\u{01}\"", #""unterminated"#,
        ]
        var docs: [[UInt8]] = []
        for _ in 0..<3_000 {
            let members = (0..<next(4)).map { _ -> String in
                let name = ["tags", "tags", "id", "x"][next(4)]
                let value =
                    next(5) == 0
                    ? ["1", "\"v\"", "null", "{}"][next(4)]
                    : "["
                        + (0..<next(7)).map { _ in next(3) == 0 ? items[next(items.count)] : items[next(4)] }
                        .joined(separator: [",", " , ", ",\n"][next(3)]) + "]"
                return "\"\(name)\":\(value)"
            }
            var text = "{" + members.joined(separator: ",") + "}"
            if next(6) == 0 {
                text = String(decoding: Array(text.utf8).prefix(next(text.utf8.count + 1)), as: UTF8.self)
            }
            docs.append(Array(text.utf8))
        }
        docs.append(Array(("{\"tags\":[" + (0..<20).map { "\"t\($0)\"" }.joined(separator: ",") + "]}").utf8))
        for doc in docs {
            let limits = JSONLimits(maxDepth: [1, 2, 64][next(3)])
            var values = [JSONValue?](repeating: nil, count: table.count)
            var texts = [Range<Int>](repeating: JSONValue.noRootText, count: table.count)
            var rootLists = [Range<Int>](repeating: JSONValue.noRootText, count: table.count)
            var listItems = [Range<Int>](repeating: JSONValue.noRootText, count: 8)
            let read = Result { () throws(JSONError) -> JSONValue? in
                try values.withUnsafeMutableBufferPointer { (values) throws(JSONError) -> JSONValue? in
                    try texts.withUnsafeMutableBufferPointer { (texts) throws(JSONError) -> JSONValue? in
                        try rootLists.withUnsafeMutableBufferPointer { (rootLists) throws(JSONError) -> JSONValue? in
                            try listItems.withUnsafeMutableBufferPointer {
                                (listItems) throws(JSONError) -> JSONValue? in
                                try JSONValue.parse(
                                    doc, limits: limits, memberNames: table, rootValues: values, rootTexts: texts,
                                    textLists: lists, rootLists: rootLists, listItems: listItems)
                            }
                        }
                    }
                }
            }
            for k in values.indices where texts[k].lowerBound >= 0 {
                values[k] = .string(String(decoding: doc[texts[k]], as: UTF8.self))
            }
            if rootLists[tags].lowerBound >= 0 {
                #expect(values[tags] == nil)
                values[tags] = .array(
                    listItems[rootLists[tags]].map { .string(String(decoding: doc[$0], as: UTF8.self)) })
            }
            let plain = Result { () throws(JSONError) -> JSONValue in try JSONValue.parse(doc, limits: limits) }
            let text = String(decoding: doc, as: UTF8.self)
            switch (plain, read) {
            case (.success(.object(let members)), .success(let whole)):
                #expect(whole == nil)
                for name in ["tags", "id", "x"] {
                    let k = table.index(of: name)!
                    #expect(
                        values[k]?.jsonBytes() == members.last { $0.0 == name }?.1.jsonBytes(), "\(name) in \(text)")
                }
            case (.success(let a), .success(let whole)):
                #expect(whole?.jsonBytes() == a.jsonBytes())
            case (.failure(let a), .failure(let b)):
                #expect(a == b, "\(text)")
            default:
                Issue.record("outcomes differ for \(text)")
            }
        }
    }

    @Test("root members no one reads are checked as read ones are: the same errors at the same offsets")
    func unreadRootMembers() {
        let table = JSONMemberNames(["id"])
        let strings = [
            #""plain""#, #""esc\"aped""#, #""\u00e9\ud83d\ude00""#, #""bad \x escape""#, #""\ud800 lone""#,
            "\"müller\"",
            "\"raw\u{01}control\"", #""unterminated"#, #""trailing backslash\"#, #""a long plain text of many bytes""#,
        ]
        var docs: [[UInt8]] = strings.map { Array(#"{"id":1,"other":\#($0)}"#.utf8) }
        for bad: UInt8 in [0x80, 0xC0, 0xE0, 0xF5, 0xFF] {
            docs.append(Array(#"{"other":"ab"#.utf8) + [bad] + Array(#"cd","id":2}"#.utf8))
        }
        for doc in docs {
            let (values, read) = Self.rootValues(of: doc, table: table)
            let plain = Result { () throws(JSONError) -> JSONValue in try JSONValue.parse(doc) }
            switch (plain, read) {
            case (.success(let whole), .success(.none)):
                #expect(values[0] == whole["id"])
            case (.failure(let a), .failure(let b)):
                #expect(a == b)
            default:
                Issue.record("outcomes differ for \(String(decoding: doc, as: UTF8.self))")
            }
        }
    }

    @Test("short strings of every length up to 16 bytes with an escaped byte at every offset are written escaped")
    func shortStringEscapes() throws {
        for length in 1...16 {
            for offset in 0..<length {
                for special in ["\"", "\\", "\n", "\u{1F}", "\u{7F}", "é"] {
                    var chars = Array(repeating: "a", count: length)
                    chars[offset] = special
                    let text = chars.joined()
                    let written = JSONValue.string(text).jsonBytes()
                    var escaped = text.replacingOccurrences(of: "\\", with: "\\\\")
                    escaped = escaped.replacingOccurrences(of: "\"", with: "\\\"")
                    escaped = escaped.replacingOccurrences(of: "\n", with: "\\n")
                    escaped = escaped.replacingOccurrences(of: "\u{1F}", with: "\\u001f")
                    #expect(written == Array("\"\(escaped)\"".utf8), "\(Array(text.utf8))")
                }
            }
        }
    }

    @Test("String(validUTF8:) is String(decoding:as:) for valid text of every length, ASCII or not")
    func validUTF8Strings() {
        for length in 0..<40 {
            for piece in ["a", "é", "😀", "\u{0}"] {
                let bytes = Array(Array(repeating: piece, count: length).joined().utf8)
                bytes.withUnsafeBufferPointer { buffer in
                    let made = String(validUTF8: buffer)
                    #expect(made == String(decoding: buffer, as: UTF8.self))
                    #expect(Array(made.utf8) == bytes)
                }
            }
        }
    }

    @Test("strings of every length with a quote, escape, control or non-ASCII byte at every offset read as written")
    func stringScanOffsets() throws {
        for length in 0..<24 {
            for offset in 0..<max(length, 1) {
                for special in ["\"", "\\", "\n", "é", "😀", "\u{01}"] {
                    var chars = Array(repeating: "a", count: length)
                    if offset < length { chars[offset] = special }
                    let text = chars.joined()
                    #expect(try JSONValue.parse(JSONValue.string(text).jsonBytes()) == .string(text))
                }
                // A raw control byte or a stray continuation byte is rejected at its own offset (1 + offset: after the
                // opening quote).
                for bad: UInt8 in [0x01, 0x1F, 0x80, 0xFF] where offset < length {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[offset] = bad
                    let doc = [0x22] + bytes + [0x22]
                    #expect(throws: JSONError.self) { try JSONValue.parse(doc) }
                    do { _ = try JSONValue.parse(doc) } catch { #expect(error.offset == 1 + offset) }
                }
            }
        }
    }
}
