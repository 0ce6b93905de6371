import CRMModel
import Testing

@Suite struct JSONTemplateTests {
    /// The shape's leaves replaced by `values`, as a tree.
    static func filled(_ shape: JSONValue, _ values: [String]) -> JSONValue {
        switch shape {
        case .number(let index): .string(values[Int(index)!])
        case .object(let members): .object(members.map { ($0.0, filled($0.1, values)) })
        case .array(let elements): .array(elements.map { filled($0, values) })
        default: shape
        }
    }

    @Test func aTemplateWritesTheSameBytesAsTheTreeWithItsValuesPutIn() throws {
        let shape = try JSONValue.parse(
            #"{"id": 0, "name": {"given": 1, "family\"s": 2}, "tags": [3, 3, {"t": 4}], "empty": {}, "list": []}"#)
        let template = try #require(JSONTemplate(shape))
        #expect(template.valueCount == 5)
        for values in [
            ["1", "Zoë", "Müller", "a", "b"],
            ["", "quote \" and backslash \\", "new\nline\ttab\u{1}", "😀", "</script>"],
        ] {
            var bytes: [UInt8] = []
            template.encode(values, into: &bytes)
            #expect(bytes == Self.filled(shape, values).jsonBytes())
            #expect(try JSONValue.parse(bytes) == Self.filled(shape, values))
        }
    }

    @Test func aLeafThatIsNotAValueIndexIsRefused() throws {
        #expect(JSONTemplate(try JSONValue.parse(#"{"a": 0, "b": "text"}"#)) == nil)
        #expect(JSONTemplate(try JSONValue.parse(#"{"a": -1}"#)) == nil)
        #expect(JSONTemplate(try JSONValue.parse(#"{"a": 1.5}"#)) == nil)
    }
}
