import Testing

@testable import CRMTelephony

/// Inputs the fuzzers (Sources/crmhub-fuzz, docs/fuzzing.md) found, each kept as the behaviour it broke.
@Suite("CTI inputs found by fuzzing")
struct CTIFuzzRegressionTests {
    @Test(
        "an AMI Timestamp too large for a date falls back to the arrival time and renders",
        arguments: ["1e300", "1e12", "inf"])
    func hugeAMITimestamp(_ timestamp: String) throws {
        var framer = AMIFramer()
        framer.append(
            Array("Event: Newchannel\r\nUniqueid: 1\r\nLinkedid: 1\r\nTimestamp: \(timestamp)\r\n\r\n".utf8))
        let frame = try #require(try framer.next())
        let event = try #require(try AMIEventTranslator.callEvent(from: frame, receivedAt: 1_700_000_000))
        #expect(event.timestamp == 1_700_000_000)
        #expect(CTIMessages.rfc3339(event.timestamp) == "2023-11-14T22:13:20.000Z")
    }

    @Test("RFC 3339 rendering clamps times no calendar holds instead of trapping")
    func rfc3339OutOfRange() {
        #expect(CTIMessages.rfc3339(1e300) == CTIMessages.rfc3339(1e12))
        #expect(CTIMessages.rfc3339(-.infinity) == CTIMessages.rfc3339(-1e12))
        #expect(CTIMessages.rfc3339(.nan) == "1970-01-01T00:00:00.000Z")
    }
}
