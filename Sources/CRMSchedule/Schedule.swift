import Foundation

/// A local time-of-day window during which a job must not start (for example ERP maintenance 01:00–03:00).
///
/// `start` and `end` are minutes after local midnight; a window with `end <= start` wraps past midnight.
/// `weekdays` (0 = Sunday) limits the window to the days it starts on; empty means every day.
public struct BlackoutWindow: Sendable, Equatable {
    /// Minutes after local midnight at which the window opens.
    public let start: Int
    /// Minutes after local midnight at which the window closes (exclusive).
    public let end: Int
    /// Weekdays (0 = Sunday) on which the window opens; empty means every day.
    public let weekdays: Set<Int>

    /// Creates a window from "HH:MM" strings.
    public init(start: String, end: String, weekdays: Set<Int> = []) throws {
        self.start = try Self.minutes(start)
        self.end = try Self.minutes(end)
        self.weekdays = weekdays
    }

    static func minutes(_ text: String) throws -> Int {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0...24).contains(h),
            (0...59).contains(m),
            h * 60 + m <= 1440
        else { throw CronError(field: "blackout", message: "'\(text)' is not HH:MM") }
        return h * 60 + m
    }

    /// Whether a local wall time (minute of day, weekday) falls inside the window.
    func contains(minuteOfDay: Int, weekday: Int) -> Bool {
        if end > start {
            return (weekdays.isEmpty || weekdays.contains(weekday)) && minuteOfDay >= start && minuteOfDay < end
        }
        // Wraps midnight: the evening part belongs to `weekday`, the morning part to the day before.
        if minuteOfDay >= start { return weekdays.isEmpty || weekdays.contains(weekday) }
        if minuteOfDay < end { return weekdays.isEmpty || weekdays.contains((weekday + 6) % 7) }
        return false
    }
}

/// What to do with runs that fell due while the daemon was down.
public enum CatchUpPolicy: String, Sendable, Equatable, CaseIterable {
    /// Run once now for all missed runs together (the window covers everything since the last checkpoint).
    case runOnce = "run-once"
    /// Skip missed runs; wait for the next scheduled one.
    case skip
}

/// A cron expression bound to an IANA time zone, with optional blackout windows.
///
/// See the module header (CronExpression.swift) for the DST rule: every matching local wall time runs exactly
/// once; a wall time inside a spring-forward gap runs shifted forward by the gap, a repeated wall time runs at its
/// first occurrence. Runs whose local time falls in a blackout window are dropped.
public struct Schedule: Sendable {
    /// The cron expression.
    public let cron: CronExpression
    /// The zone the expression is evaluated in.
    public let timeZone: TimeZone
    /// Windows during which runs are dropped.
    public let blackouts: [BlackoutWindow]
    /// What to do with runs missed while the daemon was down.
    public let catchUp: CatchUpPolicy

    /// Creates a schedule; throws ``CronError`` for a bad expression or unknown zone identifier.
    public init(
        cron: String, timeZone identifier: String, blackouts: [BlackoutWindow] = [], catchUp: CatchUpPolicy = .runOnce
    ) throws {
        self.cron = try CronExpression(cron)
        guard let zone = TimeZone(identifier: identifier) else {
            throw CronError(field: "time zone", message: "'\(identifier)' is not an IANA time zone")
        }
        self.timeZone = zone
        self.blackouts = blackouts
        self.catchUp = catchUp
    }

    private var utcCalendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }

    /// The first run strictly after `date`, or nil if none within eight years (e.g. `0 0 30 2 *`).
    public func nextRun(after date: Date) -> Date? {
        runs(after: date, limit: 1).first
    }

    /// Up to `limit` runs strictly after `date`, ascending.
    public func runs(after date: Date, limit: Int) -> [Date] {
        var result: [Date] = []
        let cal = utcCalendar
        // Walk local calendar days, starting the day before `date`'s local day (a shifted run may cross midnight).
        let localStart = date.addingTimeInterval(TimeInterval(timeZone.secondsFromGMT(for: date)))
        var day = cal.startOfDay(for: localStart).addingTimeInterval(-86_400)
        let hours = cron.hours.sorted()
        let minutes = cron.minutes.sorted()
        for _ in 0..<(366 * 8) where result.count < limit {
            let parts = cal.dateComponents([.day, .month, .weekday], from: day)
            let weekday = parts.weekday! - 1
            if cron.matchesDay(day: parts.day!, month: parts.month!, weekday: weekday) {
                var dayRuns: [Date] = []
                for h in hours {
                    for m in minutes {
                        let minuteOfDay = h * 60 + m
                        if blackouts.contains(where: { $0.contains(minuteOfDay: minuteOfDay, weekday: weekday) }) {
                            continue
                        }
                        let instant = resolve(wall: day.addingTimeInterval(TimeInterval(minuteOfDay * 60)))
                        if instant > date { dayRuns.append(instant) }
                    }
                }
                for run in Set(dayRuns).sorted() where result.count < limit && (result.last.map { run > $0 } ?? true) {
                    result.append(run)
                }
            }
            day = day.addingTimeInterval(86_400)
        }
        return result
    }

    /// Maps a wall-clock time (encoded as if it were UTC) to the instant it denotes in `timeZone`, by the DST rule.
    func resolve(wall: Date) -> Date {
        let before = timeZone.secondsFromGMT(for: wall.addingTimeInterval(-86_400))
        let after = timeZone.secondsFromGMT(for: wall.addingTimeInterval(86_400))
        let candidates = Set([before, after]).map { wall.addingTimeInterval(TimeInterval(-$0)) }
            .filter { timeZone.secondsFromGMT(for: $0) == Int(wall.timeIntervalSince($0)) }
            .sorted()
        if let first = candidates.first { return first }  // exists once, or twice: the first occurrence
        return wall.addingTimeInterval(TimeInterval(-before))  // in a gap: shift forward by the gap
    }

    /// The run to start now for runs missed between the last completed run and `now` (inclusive), by the policy:
    /// `.runOnce` returns the latest missed run time (one catch-up run), `.skip` returns nil.
    public func catchUpRun(lastRun: Date, now: Date) -> Date? {
        guard catchUp == .runOnce else { return nil }
        var latest: Date?
        var cursor = lastRun
        // Bounded: at most 100 000 missed runs are scanned (a minutely job down for ~70 days).
        for _ in 0..<100 {
            let batch = runs(after: cursor, limit: 1000)
            for run in batch where run <= now { latest = run }
            guard let last = batch.last, last <= now, batch.count == 1000 else { break }
            cursor = last
        }
        return latest
    }

    /// Formats `date` as local time in the schedule's zone with its offset, e.g. `2026-03-29 03:30 +02:00 (CEST)`.
    public func localDescription(_ date: Date) -> String {
        let offset = timeZone.secondsFromGMT(for: date)
        let local = date.addingTimeInterval(TimeInterval(offset))
        let c = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute], from: local)
        let sign = offset < 0 ? "-" : "+"
        let abs = Swift.abs(offset) / 60
        let abbr = timeZone.abbreviation(for: date) ?? timeZone.identifier
        return String(
            format: "%04d-%02d-%02d %02d:%02d %@%02d:%02d (%@)", c.year!, c.month!, c.day!, c.hour!, c.minute!,
            sign, abs / 60, abs % 60, abbr)
    }
}
