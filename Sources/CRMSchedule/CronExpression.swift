// CRMSchedule — cron schedules evaluated in IANA time zones for batch runs: parsing, DST-safe next-run
// computation, blackout windows and the catch-up policy for runs missed while the daemon was down.
//
// DST rule (one run per matching local wall-clock time, never two, never zero):
// - Spring forward: a wall time that does not exist that night (02:30 in Europe/Berlin on the last Sunday of
//   March) runs at the instant the wall time would have had with the offset in force before the gap, i.e. shifted
//   forward by the gap length (02:30 CET → 03:30 CEST). If that instant equals another run, it runs once.
// - Fall back: a wall time that occurs twice (02:30 in Europe/Berlin on the last Sunday of October) runs only at its
//   first occurrence (02:30 CEST, 00:30 UTC), not again at 02:30 CET.
import Foundation

/// A problem in a cron expression, with the field that caused it.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The offending field ("minute", "hour", ...) or "expression".
    public let field: String
    /// What is wrong.
    public let message: String
    public var description: String { "cron \(field): \(message)" }
}

/// A five-field cron expression: minute, hour, day of month, month, day of week.
///
/// Supports `*`, lists (`1,15`), ranges (`1-5`), steps (`*/15`, `10-50/20`), month names (`JAN`..`DEC`) and
/// day names (`SUN`..`SAT`, `0` and `7` are Sunday). As in Vixie cron, when both day of month and day of week are
/// restricted, a day matches if either matches.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    /// Allowed minutes, 0...59.
    public let minutes: Set<Int>
    /// Allowed hours, 0...23.
    public let hours: Set<Int>
    /// Allowed days of month, 1...31.
    public let daysOfMonth: Set<Int>
    /// Allowed months, 1...12.
    public let months: Set<Int>
    /// Allowed weekdays, 0 (Sunday)...6.
    public let daysOfWeek: Set<Int>
    let domRestricted: Bool
    let dowRestricted: Bool
    /// The source text.
    public let description: String

    /// Parses a five-field expression; throws ``CronError`` naming the field.
    public init(_ text: String) throws {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw CronError(field: "expression", message: "expected 5 fields, got \(fields.count) in '\(text)'")
        }
        minutes = try Self.parse(fields[0], name: "minute", range: 0...59, names: [:])
        hours = try Self.parse(fields[1], name: "hour", range: 0...23, names: [:])
        daysOfMonth = try Self.parse(fields[2], name: "day of month", range: 1...31, names: [:])
        months = try Self.parse(fields[3], name: "month", range: 1...12, names: Self.monthNames)
        let dow = try Self.parse(fields[4], name: "day of week", range: 0...7, names: Self.dayNames)
        daysOfWeek = Set(dow.map { $0 % 7 })
        domRestricted = fields[2] != "*" && fields[2] != "?"
        dowRestricted = fields[4] != "*" && fields[4] != "?"
        description = text
    }

    static let monthNames: [String: Int] = [
        "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
        "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
    ]
    static let dayNames: [String: Int] = ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]

    static func parse(_ field: String, name: String, range: ClosedRange<Int>, names: [String: Int]) throws -> Set<Int> {
        func value(_ s: Substring) throws -> Int {
            if let v = Int(s), range.contains(v) { return v }
            if let v = names[s.uppercased()] { return v }
            throw CronError(field: name, message: "'\(s)' is not in \(range.lowerBound)-\(range.upperBound)")
        }
        var result = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw CronError(field: name, message: "empty list element in '\(field)'") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw CronError(field: name, message: "more than one '/' in '\(part)'") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else {
                    throw CronError(field: name, message: "step '\(pieces[1])' must be a positive integer")
                }
                step = s
            }
            let base = pieces[0]
            let lower: Int
            let upper: Int
            if base == "*" || base == "?" {
                lower = range.lowerBound
                upper = range.upperBound
            } else if let dash = base.firstIndex(of: "-") {
                lower = try value(base[..<dash])
                upper = try value(base[base.index(after: dash)...])
                guard lower <= upper else { throw CronError(field: name, message: "range '\(base)' runs backwards") }
            } else {
                lower = try value(base)
                upper = pieces.count == 2 ? range.upperBound : lower
            }
            result.formUnion(stride(from: lower, through: upper, by: step))
        }
        return result
    }

    /// Whether a local calendar day matches the day-of-month, month and weekday fields.
    func matchesDay(day: Int, month: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        switch (domRestricted, dowRestricted) {
        case (true, true): return daysOfMonth.contains(day) || daysOfWeek.contains(weekday)
        case (true, false): return daysOfMonth.contains(day)
        case (false, true): return daysOfWeek.contains(weekday)
        case (false, false): return true
        }
    }
}
