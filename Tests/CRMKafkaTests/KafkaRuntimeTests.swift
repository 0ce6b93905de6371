import Testing

@testable import CRMKafka

/// What the daemon logs at start about the librdkafka it runs on.
struct KafkaRuntimeTests {
    /// A test process maps far more than 4 KiB of /proc/self/maps before librdkafka, which
    /// `String(contentsOfFile:)` cut off (the start-up log said `library=unknown`).
    @Test func theLibraryPathIsFoundInALargeProcessMap() throws {
        let path = try #require(KafkaRuntime.libraryPath)
        #expect(path.hasPrefix("/") && path.contains("librdkafka"))
        #expect(procFileText("/proc/self/maps").map { $0.utf8.count > 4_096 } == true)
    }
}
