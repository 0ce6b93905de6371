import Foundation
import Testing

@testable import CRMSchedule

private func utc(_ s: String) -> Date {
    let f = ISO8601DateFormatter()
    return f.date(from: s)!
}

@Suite("Cron schedules in IANA time zones")
struct ScheduleTests {
    @Test(
        "a 02:30 job runs once on spring-forward and fall-back nights",
        arguments: [
            // zone, search start, expected UTC runs (spring-forward: shifted by the gap; fall-back: first occurrence;
            // New York repeats 01:00-02:00, so its 02:30 is not ambiguous)
            ("Europe/Berlin", "2026-03-28T12:00:00Z", ["2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"]),
            ("Europe/Berlin", "2026-10-24T12:00:00Z", ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
            ("America/New_York", "2026-03-07T12:00:00Z", ["2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"]),
            ("America/New_York", "2026-10-31T12:00:00Z", ["2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"]),
            ("Europe/London", "2026-03-28T12:00:00Z", ["2026-03-29T01:30:00Z", "2026-03-30T01:30:00Z"]),
            ("Australia/Sydney", "2026-10-03T00:00:00Z", ["2026-10-03T16:30:00Z", "2026-10-04T15:30:00Z"]),
            ("Asia/Kolkata", "2026-03-28T00:00:00Z", ["2026-03-28T21:00:00Z", "2026-03-29T21:00:00Z"]),
        ])
    func dstNights(zone: String, start: String, expected: [String]) throws {
        let s = try Schedule(cron: "30 2 * * *", timeZone: zone)
        #expect(s.runs(after: utc(start), limit: 2) == expected.map(utc))
    }

    @Test("lists, ranges, steps and names parse; bad fields are named")
    func parsing() throws {
        let c = try CronExpression("*/15 9-17/4 1,15 JAN-MAR mon-fri")
        #expect(c.minutes == [0, 15, 30, 45])
        #expect(c.hours == [9, 13, 17])
        #expect(c.months == [1, 2, 3])
        #expect(c.daysOfWeek == [1, 2, 3, 4, 5])
        #expect(throws: CronError.self) { try CronExpression("61 * * * *") }
        #expect(throws: CronError.self) { try CronExpression("* * * *") }
        #expect(throws: CronError.self) { try Schedule(cron: "* * * * *", timeZone: "Mars/Olympus") }
    }

    @Test("blackout windows drop runs inside them")
    func blackout() throws {
        let s = try Schedule(
            cron: "0 * * * *", timeZone: "UTC", blackouts: [try BlackoutWindow(start: "23:00", end: "02:00")])
        let runs = s.runs(after: utc("2026-01-01T21:30:00Z"), limit: 3)
        #expect(runs == [utc("2026-01-01T22:00:00Z"), utc("2026-01-02T02:00:00Z"), utc("2026-01-02T03:00:00Z")])
    }

    @Test("catch-up runs once for missed runs or skips them")
    func catchUp() throws {
        let once = try Schedule(cron: "0 6 * * *", timeZone: "Europe/Berlin", catchUp: .runOnce)
        #expect(
            once.catchUpRun(lastRun: utc("2026-01-01T05:00:00Z"), now: utc("2026-01-04T12:00:00Z"))
                == utc("2026-01-04T05:00:00Z"))
        #expect(once.catchUpRun(lastRun: utc("2026-01-04T05:00:00Z"), now: utc("2026-01-04T12:00:00Z")) == nil)
        let skip = try Schedule(cron: "0 6 * * *", timeZone: "Europe/Berlin", catchUp: .skip)
        #expect(skip.catchUpRun(lastRun: utc("2026-01-01T05:00:00Z"), now: utc("2026-01-04T12:00:00Z")) == nil)
    }
}
