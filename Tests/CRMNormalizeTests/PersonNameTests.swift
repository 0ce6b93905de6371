import CRMNormalize
import Testing

@Suite("PersonName.display")
struct PersonNameTests {
    @Test(
        "title case with Irish, Scottish, Dutch and hyphenated names",
        arguments: [
            ("  jane   DOE ", "Jane Doe"),
            ("SEAN O'BRIEN", "Sean O'Brien"),
            ("ronald mcdonald", "Ronald McDonald"),
            ("willem van der berg", "Willem van der Berg"),
            ("anne-marie dupont-laurent", "Anne-Marie Dupont-Laurent"),
            ("DeAndre Jordan", "DeAndre Jordan"),
            ("VAN HALEN", "Van Halen"),
            ("", ""),
        ])
    func display(raw: String, expected: String) {
        #expect(PersonName.display(raw) == expected)
    }
}
