import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// How many event loops NIO's shared group (the ingress and admin HTTP servers, HTTP clients) runs.
public enum EventLoopThreads {
    /// Makes NIO's shared event loop group no larger than the CPUs the process may run on (its affinity mask, as set
    /// by `taskset` or `sched_setaffinity`). NIO sizes the group by the machine's cores and cgroup limits only, so a
    /// hub pinned to one core of two ran two event loops on it: each woke for its own share of the connections, and
    /// the two preempted each other. One loop per allowed CPU serves the same connections with fewer wake-ups.
    /// `NIO_SINGLETON_GROUP_LOOP_COUNT`, when set, is left to decide. Call once, first thing in `main`, before anything
    /// uses NIO's singletons.
    public static func matchCPUAffinity() {
        #if os(Linux)
            guard getenv("NIO_SINGLETON_GROUP_LOOP_COUNT") == nil, let allowed = allowedCPUs(),
                allowed < System.coreCount
            else { return }
            NIOSingletons.groupLoopCountSuggestion = allowed
        #endif
    }

    /// The number of CPUs in the process's affinity mask (`Cpus_allowed` in `/proc/self/status`, a hexadecimal mask
    /// in comma-separated 32-bit words); nil if it cannot be read.
    public static func allowedCPUs() -> Int? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("Cpus_allowed:") else { continue }
            return allowedCPUs(mask: text.dropFirst("Cpus_allowed:".count))
        }
        return nil
    }

    /// The CPUs in a `Cpus_allowed` mask (`ff,ffffffff`); nil if it is not one.
    public static func allowedCPUs(mask: Substring) -> Int? {
        var count = 0
        for character in mask where !character.isWhitespace && character != "," {
            guard let digit = character.hexDigitValue else { return nil }
            count += digit.nonzeroBitCount
        }
        return count > 0 ? count : nil
    }
}
