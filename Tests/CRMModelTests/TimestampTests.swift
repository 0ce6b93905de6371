import CRMModel
import Foundation
import Testing

@Suite("timestamps")
struct TimestampTests {
    @Test("the text is Foundation's .iso8601 form of the same second")
    func matchesFoundation() {
        var generator = SystemRandomNumberGenerator()
        let fixed: [Int64] = [0, -1, 59, 86_399, 86_400, 951_782_400, 951_868_799, 4_107_542_400, 253_402_300_799]
        let random = (0..<2_000).map { _ in Int64.random(in: -2_208_988_800...4_102_444_800, using: &generator) }
        for seconds in fixed + random {
            let expected = Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
            #expect(Timestamp.iso8601(secondsSince1970: seconds) == expected, "\(seconds)")
        }
    }
}
