import CRMCSV
import Foundation
import Testing

@testable import CRMMasterData

@Suite("Evaluation")
struct EvaluationTests {
    @Test("the scorer counts pairs and exact clusters")
    func scorer() {
        let e = ResolutionEvaluation(predicted: ["a", "a", "b", "c"], truth: [1, 1, 1, 2])
        #expect(e.truePairs == 3 && e.predictedPairs == 1 && e.correctPairs == 1)
        #expect(e.pairwisePrecision == 1)
        #expect(abs(e.pairwiseRecall - 1.0 / 3) < 1e-9)
        #expect(e.exactClusters == 1 && e.trueClusters == 2 && e.predictedClusters == 3)
    }

    @Test("the generator is deterministic and labels hard negatives")
    func generator() {
        let a = SyntheticCustomers(seed: 5).generate(count: 2_000)
        let b = SyntheticCustomers(seed: 5).generate(count: 2_000)
        #expect(a.map(\.record) == b.map(\.record))
        #expect(a.count == 2_000)
        #expect(Set(a.map(\.personId)).count < 1_500)
    }

    @Test("resolution quality on a held-out synthetic file (seed 11, thresholds chosen on seed 1)")
    func quality() {
        let rows = SyntheticCustomers(seed: 11).generate(count: 20_000)
        var g = IdentityGraph()
        for r in rows { _ = g.resolve(r.record) }
        let e = ResolutionEvaluation(
            predicted: rows.map { g.goldenId(for: $0.record.ref)! }, truth: rows.map(\.personId))
        print(e)
        #expect(e.pairwisePrecision >= 0.98)
        #expect(e.pairwiseF1 >= 0.93)
    }

    @Test("CSV reading follows RFC 4180 and maps columns")
    func csv() throws {
        let text = "rid,first,surname,email,extra\r\n1,\"Smith, Jr\",\"O\"\"Neil\",a@b.com,x\n2,,Lee,,\"multi\nline\"\n"
        let t = try CSVTable.parse(Array(text.utf8))
        #expect(t.rows.count == 2)
        #expect(t.rows[0][1] == "Smith, Jr" && t.rows[0][2] == "O\"Neil")
        #expect(t.rows[1][4] == "multi\nline")
        let recs = try t.records(columns: ["given_name": "first", "family_name": "surname"], defaultSystem: "f")
        #expect(recs[0].externalId == "1" && recs[0].familyName == "O\"Neil" && recs[0].email == "a@b.com")
        #expect(recs[1].givenName == nil)
        #expect(throws: MasterDataError.self) { try t.records(columns: ["given_name": "nope"], defaultSystem: "f") }
        #expect(throws: MasterDataError.self) { try CSVTable.parse(Array("a,b\n\"open".utf8)) }
    }

    @Test(
        "common header names are recognised without --columns; an explicit mapping wins; the id column is never a field"
    )
    func recognisedHeaders() throws {
        let text =
            "email,First Name,last_name,DOB,Zip,suburb,Street Number,address_1,Address Line 2\n7,Ann,Lee,1980-03-07,4053,Mill Park,69,Litchfield Pl,Rosedale\n"
        let t = try CSVTable.parse(Array(text.utf8))
        let used = try t.columnNames(columns: [:])
        #expect(used["email"] == nil)
        #expect(used["given_name"] == "First Name" && used["family_name"] == "last_name")
        #expect(used["date_of_birth"] == "DOB" && used["postcode"] == "Zip" && used["city"] == "suburb")
        #expect(used["street"] == "address_1" && used["house_number"] == nil && used["street2"] == "Address Line 2")
        let plain = try t.records(columns: [:], defaultSystem: "f")[0]
        #expect(plain.externalId == "7" && plain.street == "Litchfield Pl" && plain.dateOfBirth == "1980-03-07")
        #expect(plain.street2 == "Rosedale")
        let numbered = try t.records(columns: ["house_number": "Street Number", "city": "Zip"], defaultSystem: "f")[0]
        #expect(numbered.street == "69 Litchfield Pl" && numbered.city == "4053")
    }
}

@Suite("Bulk resolution")
struct BulkResolutionTests {
    /// A generated file of `count` rows in a fresh temporary directory.
    static func file(count: Int) throws -> (input: String, directory: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bulk-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let input = directory + "/in.csv"
        try SyntheticCustomers(seed: 21).writeCSV(count: count, to: input)
        return (input, directory)
    }

    @Test("bulk (read on two threads, several batches) gives the clusters of streaming, in file order")
    func bulkEqualsStreaming() throws {
        let count = BulkResolution.batchSize * 2 + 1_234
        let (input, directory) = try Self.file(count: count)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var bulk = BulkResolution()
        let report = try bulk.run(input: input, output: directory + "/bulk.csv")
        bulk.measureLatency = true
        _ = try bulk.run(input: input, output: directory + "/stream.csv")
        #expect(report.records == count)
        let a = try String(contentsOfFile: directory + "/bulk.csv", encoding: .utf8)
        let b = try String(contentsOfFile: directory + "/stream.csv", encoding: .utf8)
        #expect(a == b)
        let ids = a.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] }
        let rows = try String(contentsOfFile: input, encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(ids == rows.map { $0.split(separator: ",")[0] })
    }

    @Test("bulk with repeated record ids (later rows update earlier records) gives the clusters of streaming")
    func bulkWithUpdatesEqualsStreaming() throws {
        let (input, directory) = try Self.file(count: 5_000)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Every 50th row again at the end, with its e-mail changed: the same reference, a newer version.
        let lines = try String(contentsOfFile: input, encoding: .utf8).split(separator: "\n").map(String.init)
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false)
        let email = try #require(header.firstIndex(of: "email"))
        let again = stride(from: 1, to: lines.count, by: 50).filter { !lines[$0].contains("\"") }.map { n -> String in
            var fields = lines[n].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            fields[email] = "changed.\(n)@example.net"
            return fields.joined(separator: ",")
        }
        try ((lines + again).joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        var bulk = BulkResolution()
        let report = try bulk.run(input: input, output: directory + "/bulk.csv")
        bulk.measureLatency = true
        _ = try bulk.run(input: input, output: directory + "/stream.csv")
        #expect(report.decisions[.updated] == again.count)
        let a = try String(contentsOfFile: directory + "/bulk.csv", encoding: .utf8)
        let b = try String(contentsOfFile: directory + "/stream.csv", encoding: .utf8)
        #expect(a == b)
    }

    @Test("record ids with a comma, a quote or a line break are written quoted, the others as they are")
    func quotedIds() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bulk-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rows = [
            "id,given_name,family_name,email", "plain-1,Ada,Lovelace,ada@example.org",
            "\"a,b\",Ada,Lovelace,ada@example.org", "\"say \"\"hi\"\"\",Alan,Turing,alan@example.org",
            "\"two\nlines\",Grace,Hopper,grace@example.org",
        ]
        try (rows.joined(separator: "\n") + "\n").write(
            toFile: directory + "/in.csv", atomically: true, encoding: .utf8)
        _ = try BulkResolution().run(input: directory + "/in.csv", output: directory + "/out.csv")
        let reader = try CSVReader(path: directory + "/out.csv")
        var ids: [String] = []
        while case .success(let record)? = reader.next() { ids.append(record.fields[0]) }
        #expect(ids == ["id", "plain-1", "a,b", "say \"hi\"", "two\nlines"])
        let text = try String(contentsOfFile: directory + "/out.csv", encoding: .utf8)
        #expect(text.hasPrefix("id,cluster_id\nplain-1,G"))
        // "\r\n" is one Character, equal to neither "\r" nor "\n": the check is on the bytes.
        #expect(CSVTable.escape("a\r\nb") == "\"a\r\nb\"")
        #expect(CSVTable.escape("plain") == "plain")
    }

    @Test("a row that cannot be read in a later batch stops the bulk run with its line")
    func badRow() throws {
        let (input, directory) = try Self.file(count: BulkResolution.batchSize + 10)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let text = try String(contentsOfFile: input, encoding: .utf8)
        try (text + "x,\"unterminated\n").write(toFile: input, atomically: true, encoding: .utf8)
        #expect(throws: MasterDataError.self) { try BulkResolution().run(input: input, output: directory + "/out.csv") }
    }
}
