import CRMModel
import Foundation

/// How `date:` reads and writes a timestamp.
///
/// `from`: `rfc3339` (default; offsets honoured, naive values read in `tz`), `unix`, `unix_ms`, or a pattern of
/// `yyyy MM dd HH mm ss SSS` with literal separators (read as wall-clock time in `tz`).
/// `to`: `rfc3339` (UTC, `Z`), `local` (RFC 3339 with the offset of `tz`), `date` (`yyyy-MM-dd` in `tz`), `unix`.
///
/// Built once at load time; a class so that plans holding it copy one reference.
final class DateSpec: Sendable {
    enum Input: Sendable {
        case rfc3339, unix, unixMillis
        case pattern([Token])
    }
    enum Output: String, Sendable { case rfc3339, local, date, unix }
    enum Token: Sendable, Equatable {
        case year, month, day, hour, minute, second, millis
        case literal(UInt8)
    }
    let input: Input
    let output: Output
    /// IANA zone identifier, e.g. "Europe/Berlin".
    let zone: String
    let timeZone: TimeZone

    init(from: String, to: String, zone: String) throws(DateSpecError) {
        guard let tz = TimeZone(identifier: zone) else { throw DateSpecError("unknown IANA time zone '\(zone)'") }
        timeZone = tz
        self.zone = zone
        switch from {
        case "rfc3339", "iso8601": input = .rfc3339
        case "unix": input = .unix
        case "unix_ms": input = .unixMillis
        default: input = .pattern(try DateSpec.tokens(from))
        }
        guard let o = Output(rawValue: to) else {
            throw DateSpecError("unknown date output '\(to)' (rfc3339, local, date, unix)")
        }
        output = o
    }

    static func tokens(_ pattern: String) throws(DateSpecError) -> [Token] {
        var out: [Token] = []
        let b = Array(pattern.utf8)
        var i = 0
        func run(_ c: UInt8) -> Int {
            var n = 0
            while i + n < b.count && b[i + n] == c { n += 1 }
            return n
        }
        while i < b.count {
            let c = b[i]
            let n = run(c)
            switch (Character(Unicode.Scalar(c)), n) {
            case ("y", 4): out.append(.year)
            case ("M", 2): out.append(.month)
            case ("d", 2): out.append(.day)
            case ("H", 2): out.append(.hour)
            case ("m", 2): out.append(.minute)
            case ("s", 2): out.append(.second)
            case ("S", 3): out.append(.millis)
            default:
                if (c >= 65 && c <= 90) || (c >= 97 && c <= 122) {
                    throw DateSpecError(
                        "unsupported date pattern element '\(String(repeating: Character(Unicode.Scalar(c)), count: n))' (use yyyy MM dd HH mm ss SSS)"
                    )
                }
                for _ in 0..<n { out.append(.literal(c)) }
            }
            i += n
        }
        if !out.contains(.year) || !out.contains(.month) || !out.contains(.day) {
            throw DateSpecError("date pattern '\(pattern)' needs yyyy, MM and dd")
        }
        return out
    }

    /// Converts `text` (or a number for unix inputs) to the output form; nil when it does not parse.
    func convert(_ text: String) -> String? {
        guard let (seconds, millis) = instant(text) else { return nil }
        return format(seconds: seconds, millis: millis)
    }

    /// ``convert(_:)`` of the UTF-8 text `b`, written into `out`: the number of bytes written; nil when the text does
    /// not parse, when it or the result needs the string path (unix inputs or output, years outside 0...9999) or when
    /// `out` is too small.
    func convert(_ b: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> Int? {
        let instant: (Int64, Int)?
        switch input {
        case .rfc3339: instant = parseRFC3339(b)
        case .pattern(let tokens): instant = parsePattern(b, tokens)
        case .unix, .unixMillis: return nil
        }
        guard let (seconds, millis) = instant, let start = out.baseAddress, out.count >= DateSpec.renderedLength else {
            return nil
        }
        switch output {
        case .unix: return nil
        case .rfc3339: return DateSpec.render(seconds, millis: millis, offset: 0, into: start)
        case .local:
            let off = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
            return DateSpec.render(seconds + Int64(off), millis: millis, offset: off, into: start)
        case .date:
            let off = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
            // `yyyy-MM-dd`: the first ten bytes of the rendered time.
            return DateSpec.render(seconds + Int64(off), millis: 0, offset: 0, into: start).map { _ in 10 }
        }
    }

    func instant(_ text: String) -> (Int64, Int)? {
        switch input {
        case .unix:
            guard let d = Double(text), d.isFinite, abs(d) < 1e11 else { return nil }
            // Round to whole milliseconds first, so 0.9999 s is 1.000 s rather than 0 s and 1000 ms.
            let millis = Int64((d * 1000).rounded())
            let s = Int64(floor(Double(millis) / 1000))
            return (s, Int(millis - s * 1000))
        case .unixMillis:
            guard let d = Int64(text) ?? Double(text).flatMap({ $0.isFinite && abs($0) < 1e14 ? Int64($0) : nil })
            else { return nil }
            return (Int64(floor(Double(d) / 1000)), Int(((d % 1000) + 1000) % 1000))
        case .rfc3339:
            return TextFunctions.withBytes(text) { parseRFC3339($0) }
        case .pattern(let tokens):
            return TextFunctions.withBytes(text) { parsePattern($0, tokens) }
        }
    }

    func parseRFC3339(_ c: UnsafeBufferPointer<UInt8>) -> (Int64, Int)? {
        var i = 0
        @inline(__always) func num(_ n: Int) -> Int? {
            guard i + n <= c.count else { return nil }
            var v = 0
            for k in 0..<n {
                let d = c[i + k]
                guard d >= 48 && d <= 57 else { return nil }
                v = v * 10 + Int(d - 48)
            }
            i += n
            return v
        }
        @inline(__always) func lit(_ ch: UInt8) -> Bool {
            if i < c.count && c[i] == ch {
                i += 1
                return true
            }
            return false
        }
        guard let y = num(4), lit(45), let mo = num(2), lit(45), let d = num(2) else { return nil }
        var h = 0
        var mi = 0
        var s = 0
        var ms = 0
        if i < c.count {
            guard c[i] == 84 || c[i] == 116 || c[i] == 32 else { return nil }
            i += 1
            guard let hh = num(2), lit(58), let mm = num(2) else { return nil }
            h = hh
            mi = mm
            if lit(58) {
                guard let ss = num(2) else { return nil }
                s = ss
            }
            if lit(46) {
                var digits = 0
                var frac = 0
                while i < c.count && c[i] >= 48 && c[i] <= 57 {
                    if digits < 3 { frac = frac * 10 + Int(c[i] - 48) }
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                // Digits beyond milliseconds (Python's and Tryton's microseconds, nanoseconds) are dropped.
                for _ in min(digits, 3)..<3 { frac *= 10 }
                ms = frac
            }
        }
        guard valid(y, mo, d, h, mi, s) else { return nil }
        let local = DateSpec.epoch(y, mo, d, h, mi, s)
        if i == c.count { return (zoned(local), ms) }
        if c[i] == 90 || c[i] == 122 { return i + 1 == c.count ? (local, ms) : nil }
        guard c[i] == 43 || c[i] == 45 else { return nil }
        let sign: Int64 = c[i] == 45 ? -1 : 1
        i += 1
        guard let oh = num(2), lit(58), let om = num(2), i == c.count, oh < 24, om < 60 else { return nil }
        return (local - sign * Int64(oh * 3600 + om * 60), ms)
    }

    func parsePattern(_ c: UnsafeBufferPointer<UInt8>, _ tokens: [Token]) -> (Int64, Int)? {
        var i = 0
        var y = 0
        var mo = 0
        var d = 0
        var h = 0
        var mi = 0
        var s = 0
        var ms = 0
        func num(_ n: Int) -> Int? {
            guard i + n <= c.count else { return nil }
            var v = 0
            for k in 0..<n {
                let x = c[i + k]
                guard x >= 48 && x <= 57 else { return nil }
                v = v * 10 + Int(x - 48)
            }
            i += n
            return v
        }
        for t in tokens {
            switch t {
            case .year:
                guard let v = num(4) else { return nil }
                y = v
            case .month:
                guard let v = num(2) else { return nil }
                mo = v
            case .day:
                guard let v = num(2) else { return nil }
                d = v
            case .hour:
                guard let v = num(2) else { return nil }
                h = v
            case .minute:
                guard let v = num(2) else { return nil }
                mi = v
            case .second:
                guard let v = num(2) else { return nil }
                s = v
            case .millis:
                guard let v = num(3) else { return nil }
                ms = v
            case .literal(let l):
                guard i < c.count, c[i] == l else { return nil }
                i += 1
            }
        }
        guard i == c.count, valid(y, mo, d, h, mi, s) else { return nil }
        return (zoned(DateSpec.epoch(y, mo, d, h, mi, s)), ms)
    }

    func valid(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int) -> Bool {
        guard (1...12).contains(mo), d >= 1, h < 24, mi < 60, s < 61, y >= 1 else { return false }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let days = mo == 2 ? (leap ? 29 : 28) : (mo == 4 || mo == 6 || mo == 9 || mo == 11 ? 30 : 31)
        return d <= days
    }

    /// Wall-clock seconds in `timeZone` → UTC seconds.
    func zoned(_ local: Int64) -> Int64 {
        var utc = local - Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(local))))
        utc = local - Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(utc))))
        return utc
    }

    func format(seconds: Int64, millis: Int) -> String {
        switch output {
        case .unix: return String(seconds)
        case .rfc3339: return DateSpec.render(seconds, millis: millis, offset: 0)
        case .local:
            let off = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
            return DateSpec.render(seconds + Int64(off), millis: millis, offset: off)
        case .date:
            let off = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
            return String(DateSpec.render(seconds + Int64(off), millis: 0, offset: 0).prefix(10))
        }
    }

    static func pad(_ v: Int, _ n: Int) -> String {
        let s = String(v)
        return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
    }

    /// `yyyy-MM-ddTHH:mm:ss[.SSS](Z|±HH:mm)` for the wall-clock seconds `wall`.
    static func render(_ wall: Int64, millis: Int, offset: Int) -> String {
        var rendered = true
        let text = String(unsafeUninitializedCapacity: renderedLength) { out in
            guard let n = render(wall, millis: millis, offset: offset, into: out.baseAddress!) else {
                rendered = false
                return 0
            }
            return n
        }
        return rendered ? text : renderText(wall, millis: millis, offset: offset)
    }

    /// The most bytes ``render(_:millis:offset:into:)`` writes.
    static var renderedLength: Int { 29 }

    /// ``render(_:millis:offset:)`` written into `out` (room for ``renderedLength`` bytes): the number of bytes
    /// written; nil for the values only ``renderText(_:millis:offset:)`` writes (years outside 0...9999, unusual
    /// milliseconds or offsets).
    static func render(_ wall: Int64, millis: Int, offset: Int, into out: UnsafeMutablePointer<UInt8>) -> Int? {
        let days = wall >= 0 ? wall / 86400 : -((-wall + 86399) / 86400)
        let secs = Int(wall - days * 86400)
        let (y, m, d) = civil(days)
        let a = Swift.abs(offset)
        // Four-digit years and ordinary millisecond and offset values: write the bytes directly.
        guard (0...9999).contains(y), (0..<1000).contains(millis), a < 100 * 3600 else { return nil }
        var n = 0
        func put(_ v: Int, _ width: Int) {
            var v = v
            var k = width
            while k > 0 {
                k -= 1
                out[n + k] = UInt8(48 + v % 10)
                v /= 10
            }
            n += width
        }
        func sep(_ c: UInt8) {
            out[n] = c
            n += 1
        }
        put(y, 4)
        sep(45)
        put(m, 2)
        sep(45)
        put(d, 2)
        sep(84)
        put(secs / 3600, 2)
        sep(58)
        put(secs / 60 % 60, 2)
        sep(58)
        put(secs % 60, 2)
        if millis != 0 {
            sep(46)
            put(millis, 3)
        }
        if offset == 0 {
            sep(90)
            return n
        }
        sep(offset < 0 ? 45 : 43)
        put(a / 3600, 2)
        sep(58)
        put(a / 60 % 60, 2)
        return n
    }

    /// The general form of ``render(_:millis:offset:)`` (years outside 0...9999 and other unusual values).
    static func renderText(_ wall: Int64, millis: Int, offset: Int) -> String {
        let days = Int64(floor(Double(wall) / 86400))
        let secs = Int(wall - days * 86400)
        let (y, m, d) = civil(days)
        var out =
            "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secs / 3600, 2)):\(pad(secs / 60 % 60, 2)):\(pad(secs % 60, 2))"
        if millis != 0 { out += "." + pad(millis, 3) }
        if offset == 0 { return out + "Z" }
        let a = Swift.abs(offset)
        return out + (offset < 0 ? "-" : "+") + pad(a / 3600, 2) + ":" + pad(a / 60 % 60, 2)
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func epoch(_ y0: Int, _ m: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = Int64(era * 146097 + doe - 719468)
        return days * 86400 + Int64(h * 3600 + mi * 60 + s)
    }

    /// Year, month and day of a day count since 1970-01-01 (``Timestamp/civil(daysSince1970:)``).
    static func civil(_ days: Int64) -> (Int, Int, Int) {
        let date = Timestamp.civil(daysSince1970: days)
        return (Int(date.year), Int(date.month), Int(date.day))
    }
}

struct DateSpecError: Error {
    var message: String
    init(_ m: String) { message = m }
}
