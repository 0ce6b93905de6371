import CRMModel
import Testing

@Suite("JSONWriter in the caller's memory")
struct JSONWriterMemoryTests {
    /// A document of `n` members, each a string with escapes and a number.
    static func document(_ n: Int) -> JSONValue {
        .object((0..<n).map { k in ("m\(k)", .array([.string("v\"\(k)\\\n é"), .number(String(k)), .null])) })
    }

    @Test(
        "writing into the caller's memory gives the bytes of an own buffer, also when it outgrows the memory",
        arguments: [0, 1, 3, 40, 400])
    func sameBytes(_ members: Int) {
        let value = Self.document(members)
        for size in [0, 8, 64, 100, 1024] {
            let bytes = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: size) { memory -> [UInt8] in
                var writer = JSONWriter(memory: memory)
                writer.write(byte: UInt8(ascii: "["))
                writer.write(value)
                writer.write(byte: UInt8(ascii: ","))
                writer.writeString("tail")
                writer.write(byte: UInt8(ascii: "]"))
                return writer.finish()
            }
            #expect(bytes == Array("[\(value.jsonText),\"tail\"]".utf8), "\(members) members in \(size) bytes")
        }
    }
}
