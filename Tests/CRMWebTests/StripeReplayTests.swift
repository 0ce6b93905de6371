import Foundation
import Testing

@testable import CRMWeb

@Suite("Stripe signature replay cache and signature cap")
struct StripeReplayTests {
    let payload = Array(#"{"id":"evt_1"}"#.utf8)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("a signature accepted once is refused as replayed within the tolerance, and admitted again once forgotten")
    func replayedSignatureIsRefused() throws {
        let verifier = StripeSignatureVerifier(secrets: ["whsec_a"], tolerance: .seconds(300))
        let cache = StripeReplayCache(tolerance: .seconds(300))
        let header = StripeSignatureVerifier.header(for: payload, secret: "whsec_a", timestamp: 1_800_000_000)
        try cache.admit(try verifier.verify(header: header, payload: payload, now: now), now: now)
        let match = try verifier.verify(header: header, payload: payload, now: now.addingTimeInterval(10))
        #expect(throws: StripeSignatureError.replayed) { try cache.admit(match, now: now.addingTimeInterval(10)) }
        #expect(StripeSignatureError.replayed.description.contains("already accepted"))
        cache.forget(match)
        try cache.admit(match, now: now.addingTimeInterval(20))
        // A new signature of the same event (a sender's retry, new t=) is another request.
        let retry = StripeSignatureVerifier.header(for: payload, secret: "whsec_a", timestamp: 1_800_000_030)
        try cache.admit(try verifier.verify(header: retry, payload: payload, now: now), now: now)
        #expect(cache.count == 2)
    }

    @Test("more than 8 v1 signatures is refused as malformed before any is checked")
    func tooManySignaturesAreRefused() throws {
        let verifier = StripeSignatureVerifier(secrets: ["whsec_a"])
        let valid = StripeSignatureVerifier.header(for: payload, secret: "whsec_a", timestamp: 1_800_000_000)
        let filler = ",v1=" + String(repeating: "0", count: 64)
        let eight = valid + String(repeating: filler, count: 7)
        try verifier.verify(header: eight, payload: payload, now: now)
        let nine = valid + String(repeating: filler, count: 8)
        #expect(throws: StripeSignatureError.tooManySignatures(limit: 8)) {
            try verifier.verify(header: nine, payload: payload, now: now)
        }
        #expect(StripeSignatureError.tooManySignatures(limit: 8).reason == "signature_too_many")
    }
}
