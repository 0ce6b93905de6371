import Crypto
import Foundation

/// Verification of Stripe-style webhook signatures.
///
/// The sender puts `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...][,v0=...]` on each request,
/// where the HMAC covers the bytes `"<t>." + body` under the endpoint's signing secret. A request is accepted when
/// the timestamp is within `tolerance` of now (both directions: a stale request is a replay, a future one a forged
/// clock) and any `v1` value matches the HMAC under any configured secret. Several secrets are accepted at once so
/// a secret can be rotated without refusing webhooks signed with the old one; several `v1` values appear while the
/// sender rotates. Comparisons are constant-time. Other schemes (`v0`, unknown keys) are ignored.
public struct StripeSignatureVerifier: Sendable {
    /// The signing secrets (`whsec_...`), newest first.
    public let secrets: [String]
    /// How far the signed timestamp may be from now. Stripe's libraries default to 300 s.
    public let tolerance: Duration

    public init(secrets: [String], tolerance: Duration = .seconds(300)) {
        self.secrets = secrets
        self.tolerance = tolerance
    }

    /// Checks `header` (the `Stripe-Signature` value) against `payload`, the raw request body.
    public func verify(header: String?, payload: [UInt8], now: Date = Date()) throws(StripeSignatureError) {
        guard let header, !header.isEmpty else { throw .missingHeader }
        let parsed = try Self.parse(header)
        let age = now.timeIntervalSince1970 - Double(parsed.timestamp)
        let limit = Double(tolerance.components.seconds)
        guard abs(age) <= limit else {
            throw .outsideTolerance(ageSeconds: Int(age.rounded()), toleranceSeconds: Int(limit))
        }

        var signed = Array("\(parsed.timestamp).".utf8)
        signed.append(contentsOf: payload)
        for secret in secrets {
            let key = SymmetricKey(data: Array(secret.utf8))
            for signature in parsed.signatures
            where HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signed, using: key) {
                return
            }
        }
        throw .noMatchingSignature
    }

    struct ParsedHeader {
        var timestamp: Int64
        var signatures: [[UInt8]]
    }

    static func parse(_ header: String) throws(StripeSignatureError) -> ParsedHeader {
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for item in header.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { throw .malformed("'\(item.prefix(40))' is not key=value") }
            let key = pair[0].trimmingCharacters(in: .whitespaces)
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            switch key {
            case "t":
                guard timestamp == nil, let seconds = Int64(value), seconds > 0 else {
                    throw .malformed("bad or repeated timestamp")
                }
                timestamp = seconds
            case "v1":
                // A value that is not 64 hex digits cannot match; skip it rather than refusing its siblings.
                if let bytes = Self.hexBytes(value), bytes.count == SHA256.byteCount { signatures.append(bytes) }
            default:
                continue
            }
        }
        guard let timestamp else { throw .malformed("no timestamp (t=)") }
        guard !signatures.isEmpty else { throw .noSignatures }
        return ParsedHeader(timestamp: timestamp, signatures: signatures)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The header a sender would attach (tests, `crmhub` tooling that replays webhooks).
    public static func header(for payload: [UInt8], secret: String, timestamp: Int64) -> String {
        var signed = Array("\(timestamp).".utf8)
        signed.append(contentsOf: payload)
        let code = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Array(secret.utf8)))
        return "t=\(timestamp),v1=" + code.map { String(format: "%02x", $0) }.joined()
    }
}

/// Why a webhook's signature was refused. Each case becomes a 400 answer and a `reason` label on the metric.
public enum StripeSignatureError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingHeader
    case malformed(String)
    case noSignatures
    case outsideTolerance(ageSeconds: Int, toleranceSeconds: Int)
    case noMatchingSignature

    /// A short label for metrics.
    public var reason: String {
        switch self {
        case .missingHeader: "signature_missing"
        case .malformed, .noSignatures: "signature_malformed"
        case .outsideTolerance: "signature_stale"
        case .noMatchingSignature: "signature_mismatch"
        }
    }

    public var description: String {
        switch self {
        case .missingHeader: "the Stripe-Signature header is missing"
        case .malformed(let detail): "the Stripe-Signature header is malformed: \(detail)"
        case .noSignatures: "the Stripe-Signature header carries no v1 signature"
        case .outsideTolerance(let age, let tolerance):
            "the signature timestamp is \(age) s from now, outside the \(tolerance) s tolerance (replayed or clock skew)"
        case .noMatchingSignature: "no v1 signature matches the payload under the configured secrets"
        }
    }
}
