/// Ids for messages that arrive without one (a form post or webhook without an id field or `Idempotency-Key`).
public enum MessageID {
    /// A random (version 4) UUID in the upper-case text form of Foundation's `UUID().uuidString`, drawn from
    /// `generator`.
    public static func random<Generator: RandomNumberGenerator>(using generator: inout Generator) -> String {
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & ~0xF000) | 0x4000  // version 4 (bits 12–15 of the third group)
        low = (low & ~(0xC000 << 48)) | (0x8000 << 48)  // RFC 4122 variant (top two bits of the fourth group)
        let digits: StaticString = "0123456789ABCDEF"
        return String(unsafeUninitializedCapacity: 36) { text in
            var index = 0
            for nibble in 0..<32 {
                let word = nibble < 16 ? high : low
                let shift = UInt64(60 - 4 * (nibble % 16))
                text[index] = digits.utf8Start[Int((word >> shift) & 0xF)]
                index += 1
                // 8-4-4-4-12
                if nibble == 7 || nibble == 11 || nibble == 15 || nibble == 19 {
                    text[index] = UInt8(ascii: "-")
                    index += 1
                }
            }
            return index
        }
    }

    /// A random (version 4) UUID from the system's generator (`getrandom`). Foundation's `UUID()` on Linux opens,
    /// reads and closes `/dev/urandom` for every id: three system calls and a path lookup, about 11 µs, on each post
    /// that has no id of its own.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }
}
