import CRMBatch
import CRMHub
import CRMTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The scheduler service in the daemon: catch-up of runs missed while the hub was down, by each job's policy.
@Suite(.timeLimit(.minutes(2)))
struct BatchSchedulerTests {
    func job(name: String, catchUp: String, drop: URL) -> String {
        """
        name: \(name)
        direction: outbound
        schedule:
          cron: "30 2 * * *"
          time_zone: Europe/London
          catch_up: \(catchUp)
        topics: [crm.customer]
        format: {type: jsonl}
        drop: file://\(drop.path)
        file_name: "\(name)-{window}.jsonl"
        empty: header-only
        """
    }

    @Test func aRunMissedWhileTheHubWasDownIsCaughtUpOnceOrSkippedByPolicy() async throws {
        let broker = try TansuBroker()
        let root = try BatchTestSupport.temporaryDirectory("batch-schedule")
        let drop = root.appendingPathComponent("drop")
        try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
        let config = try BatchTestSupport.writeHubConfiguration(in: root, broker: broker.bootstrap)
        try job(name: "nightly-once", catchUp: "run-once", drop: drop).write(
            toFile: root.appendingPathComponent("Batch/once.yaml").path, atomically: true, encoding: .utf8)
        try job(name: "nightly-skip", catchUp: "skip", drop: drop).write(
            toFile: root.appendingPathComponent("Batch/skip.yaml").path, atomically: true, encoding: .utf8)
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.customer"])
        try await KafkaTestClient.produce(
            broker.bootstrap, topic: "crm.customer", values: (1...3).map(BatchRunTests.customer))

        let (environment, jobs) = try BatchTestSupport.environment(configuration: config)
        // The hub was last up three days ago: three 02:30 runs were missed.
        let threeDaysAgo = Date().addingTimeInterval(-3 * 86_400)
        for job in jobs { try environment.state.setLastScheduledRun(job: job.name, threeDaysAgo) }

        let scheduler = BatchSchedulerService(runner: BatchRunner(environment: environment), jobs: jobs)
        let group = ServiceGroup(services: [scheduler], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        var once: [BatchRunReport] = []
        try await eventually(timeout: .seconds(30), poll: .milliseconds(200)) {
            once = try environment.state.history(job: "nightly-once")
            return once.contains(where: { $0.status != .running })
        }
        try await Task.sleep(for: .seconds(1))  // time for a wrong second catch-up run to show
        await group.triggerGracefulShutdown()
        try await running.value

        once = try environment.state.history(job: "nightly-once")
        #expect(once.count == 1, "run-once catches up exactly one missed run: \(once.map(\.trigger))")
        #expect(once.first?.trigger == "catch-up")
        #expect(once.first?.rowsProduced == 3)
        #expect(try environment.state.history(job: "nightly-skip").isEmpty, "skip runs nothing for the missed nights")
        let last = try #require(try environment.state.lastScheduledRun(job: "nightly-once"))
        #expect(last > threeDaysAgo, "the caught-up run is recorded, so a restart does not run it again")
    }
}
