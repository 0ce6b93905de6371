import CRMModel
import Testing

@testable import CRMMapping

/// The functions with steps of their own give what ``FunctionStep`` (``Evaluator/call(_:_:)``) gives: the same value
/// or the same failure.
@Suite("Direct function steps")
struct DirectStepTests {
    static let values: [JSONValue] = [
        .null, "", " ", "\t\n", "jane", " Jane DOE ", "O'BRIEN", "van der berg", "müller", "ÉCOLE", "İstanbul", "ﬁne",
        " \u{A0}x\u{2003} ", "😀", "mary-ann", "McDONALD", .number("12"), .number("-1.5e3"), .bool(true),
        .bool(false), .array([]), .array(["x"]), .array([.null]), .object([]), .object([("a", .number("1"))]),
        " Jane.Doe@Example.com ", "a@b", "x@y.z", "Name <A@B.co>", "mailto:a@b.co", "a..b@c.de", "020 7946 0018",
        "+44 7700 900123", "+49 30 123456", "12", "(0)20 7946 0018", "yes", "Opt-In", "N", "0", "maybe", "TRUE",
        .number("0"), .number("0.0"), .number("2"), " 1234.5 ", "1,5", "-0.005", "2024-03-01T10:00:00+01:00",
        "2024-03-01T10:00:00.123456Z", "01/03/2024", .number("1700000000"), "en_GB", "EN", "abc123def",
    ]

    /// `fn: {date: {from:, to:, tz: Europe/London}}`.
    static func date(_ from: String, _ to: String) -> Fn {
        // The specs are valid (a test of their own checks the errors).
        .date(try! DateSpec(from: from, to: to, zone: "Europe/London"))
    }

    /// `fn: {regex: pattern}`.
    static func regex(_ pattern: String) -> Fn {
        .regexExtract(RegexBox(regex: try! Regex(pattern), pattern: pattern))
    }

    @Test(
        "the steps of their own equal the function step",
        arguments: [
            Fn.trim, .lower, .upper, .name, .nonEmpty, .email, .phone(region: "GB"), .phone(region: "DE"),
            .phone(region: "us"), .phone(region: "XX"), .string,
            .prefix("crm:"), .list, .bool, .decimal(scale: 2), .decimal(scale: 0), Self.date("rfc3339", "rfc3339"),
            Self.date("dd/MM/yyyy", "local"), Self.date("unix", "date"), Self.regex("^([a-z]{2})"),
            Self.regex("(?i)[0-9]+"),
        ])
    func sameAsFunctionStep(_ f: Fn) throws {
        let direct = Lowering.functionStep(f)
        #expect(!(direct is FunctionStep))
        let reference = FunctionStep(f)
        let ev = Evaluator(root: .object([]), lookup: nil)
        var rng = RuntimeFastPathTests.Rng(s: 3)
        var inputs = Self.values
        for _ in 0..<2_000 {
            let n = rng.next(6)
            inputs.append(
                .string(
                    (0..<n).map { _ in RuntimeFastPathTests.alphabet[rng.next(RuntimeFastPathTests.alphabet.count)] }
                        .joined()))
        }
        for v in inputs {
            let a = Result { () throws(FieldFailure) in try direct.apply(ev, v) }
            let b = Result { () throws(FieldFailure) in try reference.apply(ev, v) }
            switch (a, b) {
            case (.success(let x), .success(let y)):
                #expect(x.jsonBytes() == y.jsonBytes(), "\(f.name) \(v.jsonText)")
            case (.failure(let x), .failure(let y)):
                #expect(x.reason == y.reason && x.value == y.value && x.field == y.field, "\(f.name) \(v.jsonText)")
            default:
                Issue.record("\(f.name) \(v.jsonText): \(a) but \(b)")
            }
        }
    }
}
