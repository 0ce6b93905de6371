import CRMBatch
import CRMTestSupport
import Foundation
import Testing

/// Job definitions: the shipped examples load; mistakes are reported with file:line:column.
@Suite struct BatchJobTests {
    @Test func shippedExampleJobsLoad() throws {
        let jobs = try BatchJob.loadAll(directory: repositoryRoot.appendingPathComponent("deploy/demo/batch").path)
        #expect(jobs.map(\.name) == ["customers-export", "customers-import"])
        let export = try #require(jobs.first)
        #expect(export.direction == .outbound)
        #expect(export.schedule?.timeZone.identifier == "Europe/London")
        guard case .csv(let csv) = export.format else { Issue.record("expected CSV"); return }
        #expect(csv.options.delimiter == UInt8(ascii: ";"))
        #expect(csv.options.encoding == .windows1252)
        #expect(csv.columns.last == BatchJob.Column(name: "phone", path: "phone_mechanisms.0.value"))
        let runs = try #require(export.schedule).runs(after: try Date("2026-11-25T12:00:00Z", strategy: .iso8601), limit: 3)
        #expect(runs.map { $0.formatted(.iso8601) } == ["2026-11-26T02:30:00Z", "2026-11-27T02:30:00Z", "2026-11-28T02:30:00Z"])
        #expect(jobs[1].topic(forEntity: "Customer") == "crm.customer")
    }

    @Test func mistakesAreReportedWithTheirLocation() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "name: a\ndirection: outbound\ntopics: [t]\nformat: {type: csv, columns: [x]}\ndrop: file:///tmp\nfile_nam: x.csv\n"
            .write(to: directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        try "name: b\ndirection: inbound\ndrop: file:///tmp\npattern: '*.csv'\nto: t\nformat: {delimiter: ';;'}\n"
            .write(to: directory.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
        try "name: c\ndirection: outbound\ntopics: [t]\nformat: {type: jsonl}\ndrop: file:///tmp\nschedule: {cron: '61 * * * *'}\n"
            .write(to: directory.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try BatchJob.loadAll(directory: directory.path)
            Issue.record("expected problems")
        } catch {
            let text = error.description
            #expect(error.problems.count == 3)
            #expect(text.contains("a.yaml:6:1") && text.contains("did you mean 'file_name'"))
            #expect(text.contains("b.yaml") && text.contains("delimiter must be one ASCII character"))
            #expect(text.contains("c.yaml") && text.contains("cron"))
        }
    }
}
