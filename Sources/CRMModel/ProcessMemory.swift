#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// This process's memory as Linux reports it: the peak resident set for benchmark and resolution reports, and the
/// two calls that make that peak mean something (returning freed heap, resetting the peak).
///
/// Everything here is best effort: where `/proc` or glibc is not available the calls do nothing and the peak is `nil`.
public enum ProcessMemory {
    /// The peak resident set (`VmHWM` in `/proc/self/status`) since the start or the last ``resetPeak()``, in KiB.
    public static func peakResidentKiB() -> Int? {
        guard let status = readStatus(),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) }
    }

    /// The peak resident set in MiB, as reports print it.
    public static func peakResidentMiB() -> Double? {
        peakResidentKiB().map { Double($0) / 1024 }
    }

    /// Hands free heap pages back to the system (glibc's `malloc_trim`). glibc keeps large freed arrays in the heap
    /// once it has raised its mmap threshold, so a phase that frees them should call this before the next one.
    public static func releaseFreeHeap() {
        #if canImport(Glibc)
            _ = glibcMallocTrim(0)
        #endif
    }

    /// Makes glibc serve every allocation of at least `bytes` from a mapping of its own, unmapped when freed
    /// (`mallopt(M_MMAP_THRESHOLD)`), for the rest of the process. This also stops glibc from raising that
    /// threshold by itself: after a large free it serves blocks up to 32 MiB from the heap, where freed arrays of a
    /// growing structure stay as holes. A bulk resolution of 1M records peaked 20 MiB lower with 4 MiB.
    public static func mapAllocations(atLeast bytes: Int) {
        #if canImport(Glibc)
            _ = glibcMallopt(-3, Int32(clamping: bytes))  // M_MMAP_THRESHOLD
        #endif
    }

    /// Returns free heap to the system, then resets the peak to the current resident set
    /// (`/proc/self/clear_refs`, value 5), so that a later ``peakResidentKiB()`` measures only what follows.
    public static func resetPeak() {
        releaseFreeHeap()
        guard let file = fopen("/proc/self/clear_refs", "w") else { return }
        fputs("5", file)
        fclose(file)
    }

    private static func readStatus() -> String? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

#if canImport(Glibc)
    /// glibc's `malloc_trim` (declared in `<malloc.h>`, which the Glibc module does not export).
    @_silgen_name("malloc_trim")
    private func glibcMallocTrim(_ pad: Int) -> Int32

    /// glibc's `mallopt` (declared in `<malloc.h>`, like `malloc_trim`).
    @_silgen_name("mallopt")
    private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
