import CRMBatch
import CRMTestSupport
import Foundation
import Testing

/// Job definitions: the shipped examples load; mistakes are reported with file:line:column.
@Suite struct BatchJobTests {
    @Test func shippedExampleJobsLoad() throws {
        let jobs = try BatchJob.loadAll(directory: repositoryRoot.appendingPathComponent("deploy/demo/batch").path)
        let names: [String] = jobs.map { (j: BatchJob) -> String in j.name }
        #expect(names == ["customers-export", "customers-import", "legacy-customers-import"])
        let export = try #require(jobs.first)
        #expect(export.direction == .outbound)
        #expect(export.schedule?.timeZone.identifier == "Europe/London")
        guard case .csv(let csv) = export.format else {
            Issue.record("expected CSV")
            return
        }
        #expect(csv.options.delimiter == UInt8(ascii: ";"))
        #expect(csv.options.encoding == .windows1252)
        let phone = BatchJob.Column(name: "phone", path: "phone_mechanisms.0.value")
        #expect(csv.columns.last == phone)
        let schedule = try #require(export.schedule)
        let from: Date = try Date("2026-11-25T12:00:00Z", strategy: .iso8601)
        let runs: [Date] = schedule.runs(after: from, limit: 3)
        let texts: [String] = runs.map { (d: Date) -> String in d.formatted(.iso8601) }
        #expect(texts == ["2026-11-26T02:30:00Z", "2026-11-27T02:30:00Z", "2026-11-28T02:30:00Z"])
        #expect(jobs[1].topic(forEntity: "Customer") == "crm.customer")
        // Relative drops name folders relative to the job files' folder: data/demo/... in the checkout.
        let imports = repositoryRoot.appendingPathComponent("data/demo/imports").standardized.path
        #expect(jobs[1].drop == imports)
        #expect(jobs[2].drop == imports)
        #expect(jobs[2].topic(forEntity: "Customer") == "raw.customer")
    }

    @Test func mistakesAreReportedWithTheirLocation() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try
            "name: a\ndirection: outbound\ntopics: [t]\nformat: {type: csv, columns: [x]}\ndrop: file:///tmp\nfile_nam: x.csv\n"
            .write(to: directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        try "name: b\ndirection: inbound\ndrop: file:///tmp\npattern: '*.csv'\nto: t\nformat: {delimiter: ';;'}\n"
            .write(to: directory.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
        try
            "name: c\ndirection: outbound\ntopics: [t]\nformat: {type: jsonl}\ndrop: file:///tmp\nschedule: {cron: '61 * * * *'}\n"
            .write(to: directory.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try BatchJob.loadAll(directory: directory.path)
            Issue.record("expected problems")
        } catch {
            let text: String = error.description
            #expect(error.problems.count == 3)
            #expect(text.contains("a.yaml:6:1"))
            #expect(text.contains("did you mean 'file_name'"))
            #expect(text.contains("delimiter must be one ASCII character"))
            #expect(text.contains("c.yaml"))
        }
    }
}
