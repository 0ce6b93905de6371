// CRMNormalize — dates of birth in several formats, with day/month ambiguity flagged.

/// A calendar date of birth.
public struct DateOfBirth: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    /// A validated date; `nil` when the day does not exist or the year is outside 1900...2030.
    public init?(year: Int, month: Int, day: Int) {
        guard (1900...2030).contains(year), (1...12).contains(month),
            (1...DateOfBirth.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The outcome of parsing.
    public struct Parsed: Sendable, Hashable {
        /// The date read.
        public var date: DateOfBirth
        /// True when the input was `NN/NN/YYYY` with both numbers ≤ 12: day and month could be swapped.
        public var dayMonthAmbiguous: Bool
    }

    /// Parses `YYYY-MM-DD`, `YYYYMMDD`, `DD.MM.YYYY`, `DD/MM/YYYY` (or `MM/DD/YYYY` when `monthFirst` or when
    /// the first number exceeds 12), `DD-MM-YYYY` and ISO timestamps (the date part). Returns `nil` for
    /// anything else, impossible dates and placeholder dates (1900-01-01, 1970-01-01).
    public static func parse(_ raw: String, monthFirst: Bool = false) -> Parsed? {
        if let parsed = parseCompact(raw, monthFirst: monthFirst) { return parsed }
        return parseGeneral(raw, monthFirst: monthFirst)
    }

    /// Day and month of a `a/b/yyyy` date: a number above 12 is the day; otherwise `monthFirst` decides, and the
    /// date is ambiguous when the two differ.
    static func dayAndMonth(_ a: Int, _ b: Int, monthFirst: Bool) -> (day: Int, month: Int, ambiguous: Bool) {
        if a > 12 { return (a, b, false) }
        if b > 12 { return (b, a, false) }
        return monthFirst ? (b, a, a != b) : (a, b, a != b)
    }

    /// `parse` for any spelling.
    static func parseGeneral(_ raw: String, monthFirst: Bool) -> Parsed? {
        let s = matchingTrim(raw)
        let head = s.split(separator: "T").first.map(String.init) ?? s
        let nums = head.split(whereSeparator: { $0 == "-" || $0 == "/" || $0 == "." || $0 == " " }).map(String.init)
        var y = 0
        var m = 0
        var d = 0
        var ambiguous = false
        if nums.count == 1, head.count == 8, let v = Int(head) {
            y = v / 10000
            m = (v / 100) % 100
            d = v % 100
        } else if nums.count == 3, let a = Int(nums[0]), let b = Int(nums[1]), let c = Int(nums[2]) {
            if nums[0].count == 4 {
                y = a
                m = b
                d = c
            } else if nums[2].count == 4 {
                y = c
                (d, m, ambiguous) = dayAndMonth(a, b, monthFirst: monthFirst)
            } else {
                return nil
            }
        } else {
            return nil
        }
        guard let date = DateOfBirth(year: y, month: m, day: d), !placeholder(date) else { return nil }
        return Parsed(date: date, dayMonthAmbiguous: ambiguous)
    }

    /// `parse` for the common spellings, on the bytes: `YYYYMMDD`, and `YYYY?MM?DD` or `NN?NN?YYYY` with `-`, `/`
    /// or `.` between the numbers (no white space, no time). `nil` when `raw` is spelled otherwise (then `parse`
    /// reads it in full); else the same outcome as the general reading.
    static func parseCompact(_ raw: String, monthFirst: Bool) -> Parsed?? {
        var raw = raw
        return raw.withUTF8 { u -> Parsed?? in
            @inline(__always) func digit(_ i: Int) -> Int? {
                let b = u[i]
                return b >= 48 && b <= 57 ? Int(b - 48) : nil
            }
            @inline(__always) func number(_ from: Int, _ count: Int) -> Int? {
                var v = 0
                for i in from..<(from + count) {
                    guard let d = digit(i) else { return nil }
                    v = v * 10 + d
                }
                return v
            }
            @inline(__always) func separator(_ i: Int) -> Bool { u[i] == 45 || u[i] == 47 || u[i] == 46 }
            var y = 0
            var m = 0
            var d = 0
            var ambiguous = false
            if u.count == 8 {
                guard let v = number(0, 8) else { return nil }
                y = v / 10000
                m = (v / 100) % 100
                d = v % 100
            } else if u.count == 10, separator(4), separator(7), let a = number(0, 4), let b = number(5, 2),
                let c = number(8, 2)
            {
                y = a
                m = b
                d = c
            } else if u.count == 10, separator(2), separator(5), let a = number(0, 2), let b = number(3, 2),
                let c = number(6, 4)
            {
                y = c
                (d, m, ambiguous) = dayAndMonth(a, b, monthFirst: monthFirst)
            } else {
                return nil
            }
            guard let date = DateOfBirth(year: y, month: m, day: d), !placeholder(date) else { return .some(nil) }
            return .some(Parsed(date: date, dayMonthAmbiguous: ambiguous))
        }
    }

    /// Whether `other` is this date with day and month swapped (and differs from it).
    public func isDayMonthSwap(of other: DateOfBirth) -> Bool {
        year == other.year && day == other.month && month == other.day && day != month
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        let mm = month < 10 ? "0\(month)" : "\(month)"
        let dd = day < 10 ? "0\(day)" : "\(day)"
        return "\(year)-\(mm)-\(dd)"
    }

    public static func < (a: DateOfBirth, b: DateOfBirth) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    static func placeholder(_ d: DateOfBirth) -> Bool {
        (d.month == 1 && d.day == 1 && (d.year == 1900 || d.year == 1970 || d.year == 2000))
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
