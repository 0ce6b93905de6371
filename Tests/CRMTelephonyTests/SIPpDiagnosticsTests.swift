import CRMTestSupport
import Testing

/// The SIPp failure report names the calls that never ended, so that a stuck call's whole exchange is in the report
/// even when the log's tail has moved on to later calls.
@Suite("SIPp diagnostics")
struct SIPpDiagnosticsTests {
    static func entry(_ time: String, _ direction: String, _ lines: [String]) -> String {
        "----------------------------------------------- 2026-12-05 \(time)\n\(direction)\n\n"
            + lines.map { $0 + "\r\n" }.joined() + "\r\n\n"
    }

    @Test("only the messages of calls without a 200 to their BYE are listed, in log order")
    func unendedCallsAreListed() {
        let log =
            Self.entry(
                "20:00:00.1", "UDP message sent (400 bytes):",
                ["INVITE sip:2001@x SIP/2.0", "Call-ID: 1-9@h", "CSeq: 1 INVITE"])
            + Self.entry(
                "20:00:00.2", "UDP message sent (400 bytes):",
                ["INVITE sip:2001@x SIP/2.0", "Call-ID: 2-9@h", "CSeq: 1 INVITE"])
            + Self.entry(
                "20:00:00.3", "UDP message received [300] bytes :",
                ["SIP/2.0 100 Trying", "Call-ID: 1-9@h", "CSeq: 1 INVITE"])
            + Self.entry(
                "20:00:00.4", "UDP message sent (400 bytes):", ["BYE sip:x SIP/2.0", "Call-ID: 2-9@h", "CSeq: 2 BYE"])
            + Self.entry(
                "20:00:00.5", "UDP message received [300] bytes :", ["SIP/2.0 200 OK", "Call-ID: 2-9@h", "CSeq: 2 BYE"])
        let report = SIPpAgent.unendedCalls(in: log)
        #expect(!report.contains("2-9@h"))
        #expect(report.contains("20:00:00.1") && report.contains("20:00:00.3"))
        let invite = report.range(of: "INVITE sip:2001@x")
        let trying = report.range(of: "SIP/2.0 100 Trying")
        #expect(invite != nil && trying != nil && invite!.lowerBound < trying!.lowerBound)
    }
}
