import Foundation

/// Reads the long directory listing an SFTP server sends (what libcurl passes on for an `sftp://…/dir/` URL), one
/// `ls -l` line per entry as OpenSSH's sftp-server formats it:
///
///     -rw-r--r--    1 root     root       100000 Nov 25 09:16 orders-2026-11-25.csv
///
/// Only regular files (mode starting with `-`) are kept. The time has minute precision (or day precision for files
/// older than six months) and is read as UTC: the server formats it in its own time zone, which SFTP v3 does not say.
enum SFTPListing {
    static func regularFiles(in text: String, now: Date = Date()) -> [DroppedFile] {
        var files: [DroppedFile] = []
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            if let file = regularFile(line: Substring(line), now: now) { files.append(file) }
        }
        return files
    }

    /// One listing line as a file, or nil for directories, links, devices and lines it cannot read.
    static func regularFile(line: Substring, now: Date) -> DroppedFile? {
        guard line.first == "-" else { return nil }
        var rest = line
        var fields: [Substring] = []
        while fields.count < 8 {
            rest = rest.drop(while: { $0 == " " || $0 == "\t" })
            guard let end = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
            fields.append(rest[..<end])
            rest = rest[end...]
        }
        // Exactly one separator before the name (names may contain spaces).
        guard rest.first == " " || rest.first == "\t" else { return nil }
        let name = String(rest.dropFirst())
        guard !name.isEmpty, let size = Int64(fields[4]) else { return nil }
        let modified = date(month: fields[5], day: fields[6], timeOrYear: fields[7], now: now)
        return DroppedFile(name: name, size: size, modified: modified)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Nov 25 09:16` (within the last six months; the year is the one that puts it in the past) or `Nov 25  2025`.
    static func date(month: Substring, day: Substring, timeOrYear: Substring, now: Date) -> Date? {
        guard let monthIndex = months.firstIndex(of: String(month)), let dayNumber = Int(day) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        var components = DateComponents()
        components.month = monthIndex + 1
        components.day = dayNumber
        let clock = timeOrYear.split(separator: ":")
        if clock.count == 2, let hour = Int(clock[0]), let minute = Int(clock[1]) {
            components.hour = hour
            components.minute = minute
            let thisYear = calendar.component(.year, from: now)
            components.year = thisYear
            guard let candidate = calendar.date(from: components) else { return nil }
            // A time shown without a year lies in the past (allowing a day of clock skew between the hosts).
            if candidate > now.addingTimeInterval(86_400) {
                components.year = thisYear - 1
                return calendar.date(from: components)
            }
            return candidate
        }
        guard let year = Int(timeOrYear) else { return nil }
        components.year = year
        return calendar.date(from: components)
    }
}
