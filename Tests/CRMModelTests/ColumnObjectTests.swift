import CRMModel
import Testing

/// A row of text columns (a CSV row under its header) stands for the object that setting every column's path makes.
@Suite struct ColumnObjectTests {
    static func paths(_ header: [String]) -> [[String]] {
        header.map { $0.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
    }

    static let headers: [[String]] = [
        ["id", "first_name", "address.street", "address.city", "marketing.email", "address.zip", "status"],
        ["id", "address.city", "name", "address.city"],
        ["a", "a.b", "c"],
        ["a.b", "a", "c"],
        ["a.b.c", "a.b.d", "a.e", "f"],
        ["x..y", "", "x"],
        ["same", "same", "same"],
        ["na\"me", "a.b\\c", "tab\there"],
    ]

    @Test(arguments: headers)
    func theObjectAndItsBytesAreWhatSettingEveryPathMakes(header: [String]) throws {
        let paths = Self.paths(header)
        let object = try #require(ColumnObject(paths: paths))
        #expect(object.paths == paths)
        for row in 0..<3 {
            // The last row's values need escaping (quote, backslash, newline, a control character) or are not ASCII.
            let fields: [String] = header.indices.map { row == 2 ? "q\"u\\o\n\u{1}é-\($0)" : "v\(row)-\($0)" }
            var expected = JSONValue.object([])
            for (path, field) in zip(paths, fields) { expected.set(path: path[...], to: .string(field)) }
            guard case .object(let members) = expected else {
                Issue.record("not an object")
                return
            }
            #expect(object.rootNames == members.map(\.0))

            #expect(object.value(fields) == expected)
            var text: [UInt8] = []
            var ends: [Int] = []
            for field in fields {
                text.append(contentsOf: field.utf8)
                ends.append(text.count)
            }
            #expect(text.withUnsafeBufferPointer { object.value(text: $0, ends: ends) } == expected, "from the text")
            #expect(object.jsonBytes(text: text, ends: ends) == expected.jsonBytes(), "written straight from the text")
        }
    }

    @Test func anEmptyPathMakesNoObject() {
        #expect(ColumnObject(paths: [["id"], []]) == nil)
    }
}
