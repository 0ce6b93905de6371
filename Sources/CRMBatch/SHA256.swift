import Crypto

/// Streaming SHA-256 for file checksums and deterministic message ids: a small face over swift-crypto's `SHA256`.
public struct SHA256Digest: Sendable {
    private var hasher = SHA256()

    public init() {}

    /// Feeds `bytes`.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        hasher.update(data: Array(bytes))
    }

    /// Feeds a contiguous buffer.
    public mutating func update(buffer: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: buffer)
    }

    /// The digest as lower-case hex.
    public mutating func finalizeHex() -> String {
        Self.hexString(finalize())
    }

    /// The 32-byte digest.
    public mutating func finalize() -> [UInt8] {
        Array(hasher.finalize())
    }

    /// SHA-256 of `bytes` as lower-case hex.
    public static func hex(_ bytes: [UInt8]) -> String {
        hexString(Array(SHA256.hash(data: bytes)))
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func hexString(_ bytes: [UInt8]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
