import CRMModel
import Foundation
import Testing

@Suite("message ids")
struct MessageIDTests {
    @Test("a random id is a version-4 RFC 4122 UUID in Foundation's upper-case text form")
    func randomIDsAreVersion4UUIDs() {
        var seen = Set<String>()
        for _ in 0..<2_000 {
            let id = MessageID.random()
            let parsed = UUID(uuidString: id)
            #expect(parsed?.uuidString == id)
            let bytes = parsed.map { withUnsafeBytes(of: $0.uuid) { Array($0) } } ?? []
            #expect(bytes.count == 16 && bytes[6] >> 4 == 4, "version nibble of \(id)")
            #expect(bytes.count == 16 && bytes[8] >> 6 == 0b10, "variant bits of \(id)")
            seen.insert(id)
        }
        #expect(seen.count == 2_000)
    }

    @Test("every bit of the generator's two words except version and variant reaches the text")
    func theGeneratorsBitsAreAllUsed() {
        struct Fixed: RandomNumberGenerator {
            var words: [UInt64]
            mutating func next() -> UInt64 { words.removeFirst() }
        }
        var zeros = Fixed(words: [0, 0])
        #expect(MessageID.random(using: &zeros) == "00000000-0000-4000-8000-000000000000")
        var ones = Fixed(words: [.max, .max])
        #expect(MessageID.random(using: &ones) == "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF")
        var counting = Fixed(words: [0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210])
        #expect(MessageID.random(using: &counting) == "01234567-89AB-4DEF-BEDC-BA9876543210")
    }
}
