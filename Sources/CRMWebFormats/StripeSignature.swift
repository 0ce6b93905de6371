import Crypto
import Foundation
import Synchronization

/// Verification of Stripe-style webhook signatures.
///
/// The sender puts `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...][,v0=...]` on each request,
/// where the HMAC covers the bytes `"<t>." + body` under the endpoint's signing secret. A request is accepted when
/// the timestamp is within `tolerance` of now (both directions: a stale request is a replay, a future one a forged
/// clock) and any `v1` value matches the HMAC under any configured secret. Several secrets are accepted at once so
/// a secret can be rotated without refusing webhooks signed with the old one; several `v1` values appear while the
/// sender rotates, at most ``maxSignatures`` of them. Comparisons are constant-time. Other schemes (`v0`, unknown
/// keys) are ignored. A signature accepted once is refused again within the tolerance when the caller keeps a
/// ``StripeReplayCache``.
public struct StripeSignatureVerifier: Sendable {
    /// Most `v1=` values one header may carry; more is refused as malformed (each costs an HMAC comparison per
    /// secret).
    public static let maxSignatures = 8

    /// The signing secrets (`whsec_...`), newest first.
    public let secrets: [String]
    /// How far the signed timestamp may be from now. Stripe's libraries default to 300 s.
    public let tolerance: Duration

    public init(secrets: [String], tolerance: Duration = .seconds(300)) {
        self.secrets = secrets
        self.tolerance = tolerance
    }

    /// A signature that matched: what a ``StripeReplayCache`` remembers.
    public struct Match: Sendable, Equatable {
        /// The signed timestamp (Unix seconds).
        public var timestamp: Int64
        /// The `v1` value that matched.
        public var signature: [UInt8]
    }

    /// Checks `header` (the `Stripe-Signature` value) against `payload`, the raw request body, and returns the
    /// signature that matched.
    @discardableResult
    public func verify(header: String?, payload: [UInt8], now: Date = Date()) throws(StripeSignatureError) -> Match {
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
                return Match(timestamp: parsed.timestamp, signature: signature)
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
        var seenSignatures = 0
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
                seenSignatures += 1
                guard seenSignatures <= Self.maxSignatures else { throw .tooManySignatures(limit: Self.maxSignatures) }
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
    /// More `v1=` values than ``StripeSignatureVerifier/maxSignatures``.
    case tooManySignatures(limit: Int)
    /// The same signature was accepted before, within the tolerance window.
    case replayed

    /// A short label for metrics.
    public var reason: String {
        switch self {
        case .missingHeader: "signature_missing"
        case .malformed, .noSignatures: "signature_malformed"
        case .outsideTolerance: "signature_stale"
        case .noMatchingSignature: "signature_mismatch"
        case .tooManySignatures: "signature_too_many"
        case .replayed: "signature_replayed"
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
        case .tooManySignatures(let limit): "the Stripe-Signature header carries more than \(limit) v1 signatures"
        case .replayed:
            "this signature was already accepted: a replayed request (a sender's retry is signed anew with a new t=)"
        }
    }
}

/// Signatures accepted within their tolerance window, so that the same signed request is accepted once: a captured
/// webhook replayed within the window is refused (``StripeSignatureError/replayed``). Entries leave once their
/// timestamp is older than the tolerance, when the timestamp check refuses them anyway.
public final class StripeReplayCache: Sendable {
    private struct State {
        var expiries: [[UInt8]: Int64] = [:]
        var nextPrune = 1_024
    }

    private let tolerance: Duration
    private let state = Mutex(State())

    /// A cache that remembers each signature for `tolerance` past its timestamp (the verifier's tolerance).
    public init(tolerance: Duration) { self.tolerance = tolerance }

    /// Remembers `match` until its window ends; throws ``StripeSignatureError/replayed`` when it is already there.
    public func admit(_ match: StripeSignatureVerifier.Match, now: Date = Date()) throws(StripeSignatureError) {
        let nowSeconds = Int64(now.timeIntervalSince1970)
        let expiry = match.timestamp + tolerance.components.seconds
        let admitted = state.withLock { state -> Bool in
            if let seen = state.expiries[match.signature], seen >= nowSeconds { return false }
            if state.expiries.count >= state.nextPrune {
                state.expiries = state.expiries.filter { $0.value >= nowSeconds }
                state.nextPrune = max(1_024, state.expiries.count * 2)
            }
            state.expiries[match.signature] = expiry
            return true
        }
        guard admitted else { throw .replayed }
    }

    /// Forgets `match`: the request it signed was not stored, so the sender may send it again as it is.
    public func forget(_ match: StripeSignatureVerifier.Match) {
        _ = state.withLock { $0.expiries.removeValue(forKey: match.signature) }
    }

    /// Signatures currently remembered.
    public var count: Int { state.withLock { $0.expiries.count } }
}
