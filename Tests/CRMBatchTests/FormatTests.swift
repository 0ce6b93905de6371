import CRMCSV
import Foundation
import Testing

@testable import CRMBatch

/// RFC 4180 reading and writing, encodings, line numbers, JSON lines, SHA-256.
@Suite struct BatchFormatTests {
    static func read(_ text: [UInt8], _ options: CSVOptions = CSVOptions()) -> [Result<CSVRecord, CSVRowError>] {
        let reader = CSVReader(bytes: text, options: options)
        var out: [Result<CSVRecord, CSVRowError>] = []
        while let next = reader.next() { out.append(next) }
        return out
    }

    static func fields(_ text: String, _ options: CSVOptions = CSVOptions()) -> [[String]] {
        fieldsOf(read(Array(text.utf8), options))
    }

    static func fieldsOf(_ results: [Result<CSVRecord, CSVRowError>]) -> [[String]] {
        var out: [[String]] = []
        for result in results {
            if case .success(let record) = result { out.append(record.fields) }
        }
        return out
    }

    static func fieldsAt(_ results: [Result<CSVRecord, CSVRowError>], _ index: Int) -> [String]? {
        guard index < results.count, case .success(let record) = results[index] else { return nil }
        return record.fields
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var input: String
        var expected: [[String]]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "plain fields, LF", input: "a,b,c\n1,2,3\n", expected: [["a", "b", "c"], ["1", "2", "3"]]),
        Case(name: "CRLF records, no final newline", input: "a,b\r\n1,2", expected: [["a", "b"], ["1", "2"]]),
        Case(name: "quoted field with comma", input: "\"Doe, Jane\",x\n", expected: [["Doe, Jane", "x"]]),
        Case(name: "doubled quotes inside quotes", input: "\"say \"\"hi\"\"\",y\n", expected: [["say \"hi\"", "y"]]),
        Case(name: "LF inside quotes", input: "\"line1\nline2\",z\n", expected: [["line1\nline2", "z"]]),
        Case(name: "CRLF inside quotes is kept", input: "\"l1\r\nl2\",z\r\n", expected: [["l1\r\nl2", "z"]]),
        Case(name: "empty fields and empty quoted field", input: ",\"\",\n", expected: [["", "", ""]]),
        Case(name: "blank lines are skipped", input: "a\n\n\r\nb\n", expected: [["a"], ["b"]]),
        Case(
            name: "UTF-8 BOM is skipped", input: "\u{FEFF}id,name\n1,Zoë\n", expected: [["id", "name"], ["1", "Zoë"]]),
        Case(name: "quote inside an unquoted field is literal", input: "ab\"c,d\n", expected: [["ab\"c", "d"]]),
    ]

    @Test(arguments: cases) func readsRFC4180Records(_ c: Case) {
        #expect(Self.fields(c.input) == c.expected)
    }

    @Test func semicolonDelimiterLeavesCommasInFields() {
        let options = CSVOptions(delimiter: UInt8(ascii: ";"))
        let got: [[String]] = Self.fields("a;b,c;\"d;e\"\n", options)
        let want: [[String]] = [["a", "b,c", "d;e"]]
        #expect(got == want)
    }

    @Test func recordsReportTheLineTheyStartOn() throws {
        let text = "h1,h2\n\"multi\nline\nvalue\",x\nnext,row\n\nlast,one\n"
        var lines: [Int] = []
        for result in Self.read(Array(text.utf8)) {
            if case .success(let record) = result { lines.append(record.line) }
        }
        let want: [Int] = [1, 2, 5, 7]
        #expect(lines == want)
    }

    /// Inputs of every kind the reader meets: the RFC 4180 cases, broken byte-order marks, invalid UTF-8, stray and
    /// unterminated quotes, other encodings.
    static let textRecordInputs: [([UInt8], CSVOptions)] =
        cases.map { (Array($0.input.utf8), CSVOptions()) } + [
            ([0xEF, 0x0A] + Array("id,name\n".utf8), CSVOptions()),
            (Array("id,name\n1,ok\n2,".utf8) + [0xC3, 0x28] + Array(",é\n3,fine\n".utf8), CSVOptions()),
            (Array("a,b\n\"x\"y,z\n1,\"never closed\n".utf8), CSVOptions()),
            ([0x6E, 0x61, 0x6D, 0x65, 0x0A, 0x5A, 0x6F, 0xEB, 0x3B, 0x41, 0x0A], CSVOptions(encoding: .latin1)),
            (
                [0x80, 0x35, 0x3B, 0x93, 0x71, 0x94, 0x0A],
                CSVOptions(delimiter: UInt8(ascii: ";"), encoding: .windows1252)
            ),
        ]

    @Test(arguments: textRecordInputs.indices)
    func recordsReadAsOneTextAreTheRecordsAndErrorsReadAsStrings(_ index: Int) {
        let (bytes, options) = Self.textRecordInputs[index]
        let reader = CSVReader(bytes: bytes, options: options)
        var texts: [Result<[String], CSVRowError>] = []
        while let next = reader.nextText() {
            texts.append(next.map { ["line \($0.line)"] + $0.fields })
        }
        let strings = Self.read(bytes, options).map { $0.map { ["line \($0.line)"] + $0.fields } }
        #expect(texts == strings)
        #expect(!texts.isEmpty)
    }

    @Test func latin1AndWindows1252Decode() {
        let latin1: [UInt8] = [0x6E, 0x61, 0x6D, 0x65, 0x0A, 0x5A, 0x6F, 0xEB, 0x0A]  // "name\nZoë\n"
        let latinFields: [[String]] = Self.fieldsOf(Self.read(latin1, CSVOptions(encoding: .latin1)))
        let wantLatin: [[String]] = [["name"], ["Zoë"]]
        #expect(latinFields == wantLatin)
        let cp1252: [UInt8] = [0x80, 0x35, 0x2C, 0x93, 0x71, 0x94, 0x0A]  // "€5,“q”"
        let cpFields: [[String]] = Self.fieldsOf(Self.read(cp1252, CSVOptions(encoding: .windows1252)))
        let wantCP: [[String]] = [["€5", "“q”"]]
        #expect(cpFields == wantCP)
    }

    @Test func aFileOfALoneBrokenByteOrderMarkIsOneRowError() {
        let results = Self.read([0xEF, 0xBB])
        #expect(results.count == 1)
        if case .success = results.first { Issue.record("expected a row error") }
    }

    @Test(arguments: [[0xEF, 0x0A], [0xEF, 0xBB, 0x0D, 0x0A], [0xEF, 0x0A, 0x0A]] as [[UInt8]])
    func aBrokenByteOrderMarkIsARowErrorOnTheFirstLineAndTheNextRecordIsClean(_ start: [UInt8]) {
        let results = Self.read(start + Array("id,name\n".utf8))
        #expect(results.count == 2)
        if case .failure(let error) = results.first {
            #expect(error.line == 1)
            #expect(error.message.contains("not valid utf-8"))
        } else {
            Issue.record("expected a row error for the broken byte-order mark")
        }
        #expect(Self.fieldsAt(results, 1) == ["id", "name"])
    }

    @Test func invalidUTF8IsARowErrorAndReadingContinues() {
        var bytes = Array("id,name\n1,ok\n2,".utf8)
        bytes += [0xC3, 0x28]  // invalid sequence
        bytes += Array("\n3,fine\n".utf8)
        let results = Self.read(bytes)
        #expect(results.count == 4)
        guard results.count == 4 else { return }
        let ok: [String] = ["1", "ok"]
        #expect(Self.fieldsAt(results, 1) == ok)
        if case .failure(let error) = results[2] {
            #expect(error.line == 3)
            #expect(error.message.contains("not valid utf-8"))
        } else {
            Issue.record("expected a row error for invalid UTF-8")
        }
        let fine: [String] = ["3", "fine"]
        #expect(Self.fieldsAt(results, 3) == fine)
    }

    @Test func truncatedQuotedFieldIsARowError() {
        let results = Self.read(Array("a,b\n1,\"never closed\n".utf8))
        #expect(results.count == 2)
        if case .failure(let error) = results.last {
            #expect(error.line == 2)
            #expect(error.message.contains("unterminated"))
        } else {
            Issue.record("expected a row error for the unterminated quote")
        }
    }

    @Test func characterAfterClosingQuoteIsARowError() {
        let results = Self.read(Array("\"abc\"x,1\nok,2\n".utf8))
        #expect(results.count == 2)
        if case .failure(let error) = results.first {
            #expect(error.line == 1)
        } else {
            Issue.record("expected a row error")
        }
        let ok2: [String] = ["ok", "2"]
        #expect(Self.fieldsAt(results, 1) == ok2)
    }

    @Test func writerQuotesOnlyWhenNeededAndRoundTrips() {
        let writer = CSVWriter()
        let row: [String] = ["plain", "a,b", "say \"hi\"", "two\nlines", ""]
        let bytes = writer.encode(row)
        let written: String = String(decoding: bytes, as: UTF8.self)
        let expectedText: String = "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n"
        #expect(written == expectedText)
        let roundTrip: [[String]] = Self.fieldsOf(Self.read(bytes))
        let wantRows: [[String]] = [row]
        #expect(roundTrip == wantRows)
        let latin: [UInt8] = CSVWriter(options: CSVOptions(encoding: .latin1)).encode(["Zoë", "€"])
        let expectedLatin: [UInt8] = [0x5A, 0x6F, 0xEB, 0x2C, 0x3F, 0x0D, 0x0A]
        #expect(latin == expectedLatin)
    }

    @Test func readsAFileAcrossChunkBoundariesInConstantMemory() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var text = "id,comment\n"
        for i in 1...20_000 {
            let row: String = "\(i),\"note \(i), with \"\"quotes\"\"\nand a newline\"\n"
            text += row
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let reader = try CSVReader(path: path)
        var count = 0
        var lastLine = 0
        var lastFields: [String] = []
        while let next = reader.next() {
            let record = try next.get()
            count += 1
            lastLine = record.line
            lastFields = record.fields
        }
        #expect(count == 20_001)
        #expect(lastLine == 40_000)
        let wantLast: [String] = ["20000", "note 20000, with \"quotes\"\nand a newline"]
        #expect(lastFields == wantLast)
    }

    @Test func jsonLinesSkipsBlankLinesAndCountsLines() {
        let reader = JSONLinesReader(bytes: Array("{\"a\":1}\r\n\n{\"b\":2}\nnot json\n".utf8))
        var lines: [JSONLine] = []
        while let line = reader.next() { lines.append(line) }
        let numbers: [Int] = lines.map { (l: JSONLine) -> Int in l.line }
        let wantNumbers: [Int] = [1, 3, 4]
        #expect(numbers == wantNumbers)
        let firstText: String = String(decoding: lines.first?.bytes ?? [], as: UTF8.self)
        #expect(firstText == "{\"a\":1}")
    }

    @Test func sha256MatchesKnownVectors() {
        #expect(
            SHA256Digest.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long: [UInt8] = Array(String(repeating: "a", count: 1_000).utf8)
        var streamed = SHA256Digest()
        long.withUnsafeBytes { streamed.update(buffer: UnsafeRawBufferPointer(rebasing: $0[0..<333])) }
        long.withUnsafeBytes { streamed.update(buffer: UnsafeRawBufferPointer(rebasing: $0[333...])) }
        #expect(streamed.finalizeHex() == SHA256Digest.hex(long))
        #expect(SHA256Digest.hex(long) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func fileNamesAreDeterministicPerWindow() throws {
        let window = try Date("2026-11-25T02:00:00Z", strategy: .iso8601)
        #expect(
            batchFileName(pattern: "customers-{window}.csv", job: "x", window: window) == "customers-20261125T0200Z.csv"
        )
        #expect(batchFileName(pattern: "{job}-{date}.jsonl", job: "erp", window: window) == "erp-2026-11-25.jsonl")
    }
}
