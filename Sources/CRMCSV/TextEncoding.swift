/// Character encodings CSV and JSON-lines files may use.
public enum TextEncoding: String, Sendable, CaseIterable {
    /// UTF-8 (a leading byte-order mark is skipped). Invalid sequences make the row an error, never a crash.
    case utf8 = "utf-8"
    /// ISO-8859-1: every byte is the Unicode code point of the same value.
    case latin1 = "latin1"
    /// Windows-1252: Latin-1 with printable characters (€, smart quotes, ...) in 0x80–0x9F.
    case windows1252 = "windows-1252"

    /// Parses a configuration value (`utf-8`, `utf8`, `latin1`, `iso-8859-1`, `windows-1252`, `cp1252`).
    public init?(name: String) {
        switch name.lowercased() {
        case "utf-8", "utf8": self = .utf8
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1": self = .latin1
        case "windows-1252", "cp1252", "win1252": self = .windows1252
        default: return nil
        }
    }

    /// Decodes `bytes`; nil when they are not valid in this encoding (only UTF-8 can be invalid).
    public func decode(_ bytes: [UInt8]) -> String? {
        switch self {
        case .utf8:
            // ASCII (nearly every field) needs no validation; the generic validating initialiser is slow.
            if Self.isASCII(bytes[...]) { return String(decoding: bytes, as: UTF8.self) }
            return String(validating: bytes, as: UTF8.self)
        case .latin1:
            if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
            var scalars = String.UnicodeScalarView()
            for byte in bytes { scalars.append(Unicode.Scalar(byte)) }
            return String(scalars)
        case .windows1252:
            if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
            var scalars = String.UnicodeScalarView()
            for byte in bytes {
                if byte >= 0x80 && byte <= 0x9F, let mapped = Unicode.Scalar(Self.cp1252High[Int(byte - 0x80)]) {
                    scalars.append(mapped)
                } else {
                    scalars.append(Unicode.Scalar(byte))
                }
            }
            return String(scalars)
        }
    }

    /// True when every byte is below 0x80 (eight bytes at a time).
    static func isASCII(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.withUnsafeBytes { raw in
            var i = 0
            let count = raw.count
            while i + 8 <= count {
                if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
                i += 8
            }
            while i < count {
                if raw[i] >= 0x80 { return false }
                i += 1
            }
            return true
        }
    }

    /// Encodes `text`; characters the encoding cannot represent become `?`.
    public func encode(_ text: String) -> [UInt8] {
        switch self {
        case .utf8:
            return Array(text.utf8)
        case .latin1, .windows1252:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.utf8.count)
            for scalar in text.unicodeScalars {
                if scalar.value < 0x80 || (self == .latin1 && scalar.value <= 0xFF) {
                    bytes.append(UInt8(scalar.value))
                } else if self == .windows1252, scalar.value <= 0xFF, !(0x80...0x9F).contains(scalar.value) {
                    bytes.append(UInt8(scalar.value))
                } else if self == .windows1252, let index = Self.cp1252High.firstIndex(of: scalar.value) {
                    bytes.append(UInt8(0x80 + index))
                } else {
                    bytes.append(0x3F)
                }
            }
            return bytes
        }
    }

    /// Code points of Windows-1252 bytes 0x80–0x9F (undefined bytes map to the C1 control of the same value).
    static let cp1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,
        0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,
        0x017E, 0x0178,
    ]
}
