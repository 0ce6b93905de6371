import Foundation

/// The standard Prometheus process metrics (`process_resident_memory_bytes`, `process_cpu_seconds_total`,
/// `process_open_fds`, `process_start_time_seconds`, ...), read from `/proc/self` at each scrape, as the Go and Java
/// clients export them. Linux only: elsewhere every value is absent and nothing is rendered.
public struct ProcessMetrics: Sendable, Equatable {
    /// Resident set size in bytes (`/proc/self/statm`).
    public var residentMemoryBytes: Int?
    /// Virtual memory size in bytes (`/proc/self/stat`).
    public var virtualMemoryBytes: Int?
    /// User plus system CPU time in seconds (`/proc/self/stat`).
    public var cpuSeconds: Double?
    /// Open file descriptors (entries of `/proc/self/fd`).
    public var openFileDescriptors: Int?
    /// The soft limit on open file descriptors (`RLIMIT_NOFILE`).
    public var maxFileDescriptors: Int?
    /// When the process started, in seconds since the epoch (`/proc/self/stat` start time + `/proc/stat` btime).
    public var startTimeSeconds: Double?

    /// Reads the values now.
    public static func current() -> ProcessMetrics {
        var metrics = ProcessMetrics()
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Int(fields[1]) { metrics.residentMemoryBytes = pages * pageSize }
        }
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after "pid (comm)": state is field 3, utime 14, stime 15, starttime 22, vsize 23.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ number: Int) -> Double? {
                let index = number - 3
                return index < fields.count ? Double(fields[index]) : nil
            }
            if let user = field(14), let system = field(15), ticks > 0 { metrics.cpuSeconds = (user + system) / ticks }
            if let size = field(23) { metrics.virtualMemoryBytes = Int(size) }
            if let start = field(22), ticks > 0, let boot = bootTime() {
                metrics.startTimeSeconds = boot + start / ticks
            }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            metrics.openFileDescriptors = entries.count
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { metrics.maxFileDescriptors = Int(limit.rlim_cur) }
        return metrics
    }

    /// The system's boot time in seconds since the epoch (`btime` in `/proc/stat`).
    private static func bootTime() -> Double? {
        // Read to the end: `String(contentsOfFile:)` stops at 4 KiB for /proc files, and `btime` comes after the
        // per-CPU and interrupt lines, which pass that on machines with many cores.
        guard let data = try? FileHandle(forReadingAtPath: "/proc/stat")?.readToEnd() else { return nil }
        let stat = String(decoding: data, as: UTF8.self)
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// The values in the Prometheus text format, with HELP and TYPE lines; absent values are left out.
    public var prometheusText: String {
        var text = ""
        func add(_ name: String, _ type: String, _ help: String, _ value: String?) {
            guard let value else { return }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        add(
            "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
            cpuSeconds.map { String($0) })
        add(
            "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
            residentMemoryBytes.map { String($0) })
        add(
            "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
            virtualMemoryBytes.map { String($0) })
        add(
            "process_open_fds", "gauge", "Number of open file descriptors.", openFileDescriptors.map { String($0) })
        add(
            "process_max_fds", "gauge", "Maximum number of open file descriptors.",
            maxFileDescriptors.map { String($0) })
        add(
            "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
            startTimeSeconds.map { String($0) })
        return text
    }
}
