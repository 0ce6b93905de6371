import CRMSchedule
import Foundation
import Logging
import ServiceLifecycle

/// Runs scheduled batch jobs inside the daemon: per job, sleeps until the next run of its schedule (time zone,
/// DST rule and blackouts from CRMSchedule), runs it, and records the run time. At start, runs missed while the
/// daemon was down are handled by the job's catch-up policy (`run-once`: one run now, `skip`: none). Stops at
/// graceful shutdown (a run in progress is cancelled at its next row/batch; its checkpoint makes the next run
/// resume).
public struct BatchSchedulerService: Service {
    public let runner: BatchRunner
    public let jobs: [BatchJob]

    public init(runner: BatchRunner, jobs: [BatchJob]) {
        self.runner = runner
        self.jobs = jobs.filter { $0.schedule != nil }
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for job in jobs {
                group.addTask { await self.loop(job) }
            }
            await group.waitForAll()
        }
    }

    private func loop(_ job: BatchJob) async {
        guard let schedule = job.schedule else { return }
        let logger = runner.environment.logger
        let state = runner.environment.state
        let now = Date()
        if let last = try? state.lastScheduledRun(job: job.name),
            let missed = schedule.catchUpRun(lastRun: last, now: now)
        {
            logger.info("batch \(job.name): catching up the run of \(schedule.localDescription(missed))")
            await runOnce(job, at: missed, trigger: "catch-up")
        } else if (try? state.lastScheduledRun(job: job.name)) == nil {
            try? state.setLastScheduledRun(job: job.name, now)
        }
        while !Task.isCancelledOrShuttingDown {
            guard let next = schedule.nextRun(after: Date()) else {
                logger.warning("batch \(job.name): the schedule has no next run")
                return
            }
            logger.info("batch \(job.name): next run \(schedule.localDescription(next)) (\(next.formatted(.iso8601)))")
            let delay = next.timeIntervalSinceNow
            if delay > 0 {
                let milliseconds = Int64(delay * 1000)
                let slept: Bool? = try? await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: .milliseconds(milliseconds))
                    return true
                }
                guard slept == true else { return }
            }
            if Task.isCancelledOrShuttingDown { return }
            await runOnce(job, at: next, trigger: "schedule")
        }
    }

    private func runOnce(_ job: BatchJob, at time: Date, trigger: String) async {
        do {
            _ = try await runner.run(job, window: time, trigger: trigger)
            try runner.environment.state.setLastScheduledRun(job: job.name, time)
        } catch {
            runner.environment.logger.error("batch \(job.name): \(error)")
        }
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool { Task.isCancelled || Task.isShuttingDownGracefully }
}
