import Testing

@testable import CRMNormalize

@Suite("PhoneNumber.e164")
struct PhoneNumberTests {
    @Test(
        "national numbers with trunk prefixes",
        arguments: [
            ("020 7946 0018", "GB", "+442079460018"),
            ("07700 900123", "GB", "+447700900123"),
            ("(415) 555-2671", "US", "+14155552671"),
            ("1-415-555-2671", "US", "+14155552671"),
            ("030 1234567", "DE", "+49301234567"),
            ("01 23 45 67 89", "FR", "+33123456789"),
            ("044 668 18 00", "CH", "+41446681800"),
            ("020-123 4567", "NL", "+31201234567"),
            ("03-1234-5678", "JP", "+81312345678"),
            ("(02) 9374 4000", "AU", "+61293744000"),
            ("06 1234 5678", "IT", "+390612345678"),
        ])
    func national(raw: String, region: String, expected: String) throws {
        #expect(try PhoneNumber.e164(raw, defaultRegion: region) == expected)
    }

    @Test(
        "international prefixes +, 00, 011 and (0)",
        arguments: [
            ("+44 20 7946 0018", "US", "+442079460018"),
            ("0044 20 7946 0018", "DE", "+442079460018"),
            ("011 44 20 7946 0018", "US", "+442079460018"),
            ("+44 (0)20 7946 0018", "FR", "+442079460018"),
            ("+41 44 668 18 00", "GB", "+41446681800"),
            ("+1 415 555 2671", "GB", "+14155552671"),
            ("+353 1 234 5678", "GB", "+35312345678"),
        ])
    func international(raw: String, region: String, expected: String) throws {
        #expect(try PhoneNumber.e164(raw, defaultRegion: region) == expected)
    }

    @Test(
        "invalid numbers are rejected with a reason",
        arguments: [
            ("020 7946 01", "GB"), ("12345", "US"), ("+999 1234567", "GB"), ("call me", "GB"),
            ("", "GB"), ("020 7946 0018", "XX"), ("+33 1 23 45 67 8", "GB"), ("12+34", "GB"),
        ])
    func invalid(raw: String, region: String) {
        #expect(throws: NormalizationError.self) { try PhoneNumber.e164(raw, defaultRegion: region) }
    }

    @Test("error says which length the region needs")
    func errorText() {
        do {
            _ = try PhoneNumber.e164("020 7946 01", defaultRegion: "GB")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == "phone")
            #expect(error.reason.contains("GB"))
            #expect(error.reason.contains("8 digits"))
        }
    }

    @Test("table covers at least 40 regions with unique ISO codes")
    func table() {
        #expect(PhoneNumber.regions.count >= 40)
        #expect(Set(PhoneNumber.regions.map(\.iso)).count == PhoneNumber.regions.count)
    }

    @Test("the default region is found in any letter case; unknown or malformed regions are refused")
    func defaultRegionCase() throws {
        for region in ["GB", "gb", "Gb", "gB"] {
            #expect(try PhoneNumber.e164("020 7946 0018", defaultRegion: region) == "+442079460018")
        }
        for region in ["", "G", "GBR", "XX", "G1", "[B", "`b", "{b", "ÉB"] {
            #expect(throws: NormalizationError.self) { try PhoneNumber.e164("020 7946 0018", defaultRegion: region) }
        }
    }

    @Test("every region's calling code is recognised after + and after 00")
    func everyCallingCode() throws {
        for region in PhoneNumber.regions {
            let national = String(repeating: "5", count: region.lengths.lowerBound)
            let want = try PhoneNumber.e164("+" + region.callingCode + national, defaultRegion: "GB")
            #expect(want.hasPrefix("+" + region.callingCode))
            #expect(try PhoneNumber.e164("00" + region.callingCode + national, defaultRegion: "DE") == want)
        }
    }
}
