import Foundation
import Testing

@testable import CRMRedaction

@Suite struct RedactionPolicyTests {
    let policy = RedactionPolicy(key: Array("installation-key".utf8))

    @Test func theFingerprintIsHMACSHA256TruncatedToTwelveHexDigits() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let jefe = RedactionPolicy(key: Array("Jefe".utf8))
        #expect(jefe.fingerprint("what do ya want for nothing?") == "<text:5bdcc146bf60>")
        #expect(jefe.fingerprint("what do ya want for nothing?", kind: "email") == "<email:5bdcc146bf60>")
    }

    @Test func theSameValueCorrelatesWithinAnInstallationButNotAcrossKeys() {
        let other = RedactionPolicy(key: Array("another-installation".utf8))
        let value = "zelda.quux@example-private.org"
        #expect(policy.fingerprint(value) == policy.fingerprint(value))
        #expect(policy.fingerprint(value) != other.fingerprint(value))
        #expect(policy.fingerprint(value) != policy.fingerprint("zelda.quux@example-private.com"))
    }

    @Test(arguments: [
        ("customer zelda.quux@example-private.org bounced", "zelda.quux@example-private.org", "email"),
        ("call +44 7700 900461 back", "+44 7700 900461", "phone"),
        ("mobile 07700900461.", "07700900461", "phone"),
        ("phone (0)20 7946-0958 x", "(0)20 7946-0958", "phone"),
        ("pay to DE89 3704 0044 0532 0130 00 today", "DE89 3704 0044 0532 0130 00", "iban"),
        ("iban GB82WEST12345698765432", "GB82WEST12345698765432", "iban"),
        ("card 4111 1111 1111 1111 declined", "4111 1111 1111 1111", "card"),
        (#"{"error":"bad","name":"Zelda Quux"}"#, "Zelda Quux", "name"),
        ("first_name=Zelda Quux, status=400", "Zelda Quux", "name"),
        (#"{"error": "invalid: {\"name\": \"Zelda Quux\"}"}"#, "Zelda Quux", "name"),
        ("customerEmail: someone at home", "someone at home", "email"),
    ])
    func personalDataInFreeTextIsReplacedByItsFingerprint(text: String, value: String, kind: String) {
        let redacted = policy.redact(text)
        #expect(!redacted.contains(value), "\(redacted)")
        #expect(redacted.contains(policy.fingerprint(value, kind: kind)), "\(redacted)")
    }

    @Test(arguments: [
        "consumed raw.webform/0/1234567 at 2026-11-25T02:00:00.123Z",
        "crm-id 550e8400-e29b-41d4-a716-446655440000 retried 3 times",
        "HTTP 422 after 1500 ms from 192.168.100.200:8080",
        "hostname: erp.internal, sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "mapping 'web-form' field 'Customer.phones' value string(13 chars): not a phone number [field]",
        "field 'email': not an e-mail address",
        "the broker refused the record for out (2000000 bytes): Message size too large",
    ])
    func operationalTextIsLeftAlone(text: String) {
        #expect(policy.redact(text) == text)
    }

    @Test func redactingTwiceChangesNothing() {
        let once = policy.redact(#"name: "Zelda Quux", email zelda.quux@example-private.org, tel +44 7700 900461"#)
        #expect(policy.redact(once) == once)
        let fingerprint = policy.fingerprint("Zelda Quux", kind: "name")
        #expect(policy.redact(value: fingerprint, key: "name") == fingerprint)
    }

    @Test func echoedValuesThatTheCallerSentAreRedactedToo() {
        let sent = Array(
            #"{"party": {"displayName": "Zelda Quux", "code": "C-17"}, "tier": "gold", "phones": [{"type": "mobile"}]}"#
                .utf8)
        let known = policy.personalValues(inJSON: sent)
        #expect(known == ["Zelda Quux"])
        let body = "The party Zelda Quux already exists (tier gold)"
        #expect(
            policy.redact(body, echoing: known)
                == "The party \(policy.fingerprint("Zelda Quux")) already exists (tier gold)")
    }

    @Test(
        arguments: [
            ("email", "email"), ("customer_email", "email"), ("first_name", "name"), ("displayName", "name"),
            ("billing-address", "address"), ("caller", "phone"), ("hostname", nil), ("connector", nil), ("topic", nil),
            ("username", nil),
        ] as [(String, String?)])
    func keysAreMatchedByWholeWords(key: String, kind: String?) {
        #expect(policy.personalKind(ofKey: key) == kind)
    }

    @Test func aMetadataValueUnderAPersonalKeyIsFingerprintedWhole() {
        #expect(policy.redact(value: "Zelda Quux", key: "name") == policy.fingerprint("Zelda Quux", kind: "name"))
        #expect(
            policy.redact(value: "sent to +44 7700 900461", key: "detail")
                == "sent to \(policy.fingerprint("+44 7700 900461", kind: "phone"))")
    }

    @Test func aWholeNumberUnderAQuantityKeyIsKeptWhereFreeTextWouldTakeItForAPhoneNumber() {
        #expect(policy.redact(value: "171501620", key: "bytes") == "171501620")
        #expect(policy.redact(value: "-1", key: "bytes") == "-1")
        #expect(policy.redact(value: "1234567890", key: "waited_for_kafka_seconds") == "1234567890")
        // The same digits anywhere else, or a quantity key holding more than a number, are redacted as before.
        #expect(policy.redact(value: "171501620", key: "detail") != "171501620")
        #expect(policy.redact(value: "call 020 7946 0018", key: "count") != "call 020 7946 0018")
        #expect(policy.redact(value: "02079460018", key: "phone_count") != "02079460018")
    }

    @Test func aMissingKeyFileIsCreatedOnceAndReadBackAfterwards() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-redaction-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try RedactionKey.loadOrCreate(stateDirectory: folder)
        let second = try RedactionKey.loadOrCreate(stateDirectory: folder)
        #expect(first == second)
        #expect(first.count == 64)
        let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/" + RedactionKey.fileName)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}
