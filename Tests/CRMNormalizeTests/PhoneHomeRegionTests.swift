import Testing

@testable import CRMNormalize

@Suite("PhoneNumber.e164 with the default region looked up beforehand")
struct PhoneHomeRegionTests {
    @Test(
        "the same number or the same error as looking the region up per call",
        arguments: ["GB", "gb", "US", "DE", "xx", "", "G", "GBR", "ÜK"])
    func sameAsPerCall(_ region: String) {
        let numbers = [
            "020 7946 0018", "+44 20 7946 0018", "0044 20 7946 0018", "+44 (0)20 7946 0018", "(555) 123-4567",
            "011 44 20 7946 0018", "1-555-123-4567", "+1 555 123 4567", "030 123456", "+49 30 123456", "12", "",
            "abc", "+", "00", "+999 123", "0 20 7946 0018 9", "\u{A0}020\u{A0}7946\u{A0}0018",
        ]
        let home = PhoneNumber.region(iso: region)
        for n in numbers {
            let perCall = Result { () throws(NormalizationError) in try PhoneNumber.e164(n, defaultRegion: region) }
            let once = Result { () throws(NormalizationError) in
                try PhoneNumber.e164(n, defaultRegion: region, home: home)
            }
            #expect(perCall == once, "\(region) \(n)")
        }
    }
}
