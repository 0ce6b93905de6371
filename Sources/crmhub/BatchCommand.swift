import ArgumentParser
import CRMBatch
import CRMDelivery
import CRMHub
import CRMRedaction
import CRMSchedule
import Foundation
import Logging

/// `crmhub batch list|run|history`: scheduled file bridges (topic → file, file → topic).
struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "List, run and review batch jobs (topic → file exports, file → topic imports).",
        discussion: """
            Jobs are YAML files in the folder named by `batch:` in the hub configuration (default Batch/). The daemon
            (`crmhub run`) runs them on their schedules; `batch run JOB` runs one now in the foreground.
            """,
        subcommands: [List.self, Run.self, History.self])

    /// Loads the hub configuration and the batch jobs, or exits with code 2 listing the problems.
    static func load(_ options: ConfigOptions) throws -> (HubConfiguration, [BatchJob]) {
        let configuration = try options.load()
        do {
            return (configuration, try BatchJob.loadAll(directory: configuration.batchDirectory))
        } catch {
            printError("batch jobs have \(error.problems.count) problem(s):\n\(error)")
            throw ExitCode(2)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each job with its next three runs, in the job's time zone and UTC.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let (_, jobs) = try BatchCommand.load(options)
            if jobs.isEmpty {
                print("no batch jobs")
                return
            }
            for job in jobs {
                let target =
                    job.direction == .outbound
                    ? "\(job.topics.joined(separator: ",")) → \(job.drop)/\(job.filePattern)"
                    : "\(job.drop)/\(job.filePattern) → \(job.destinations.values.sorted().joined(separator: ","))"
                print("\(job.name)  \(job.direction.rawValue)  \(target)")
                guard let schedule = job.schedule else {
                    print("  on demand only (no schedule)")
                    continue
                }
                print(
                    "  cron '\(schedule.cron.description)' in \(schedule.timeZone.identifier), catch-up \(schedule.catchUp.rawValue)"
                )
                for run in schedule.runs(after: Date(), limit: 3) {
                    print("  next: \(schedule.localDescription(run))  =  \(run.formatted(.iso8601))")
                }
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one job now, in the foreground (progress on stderr).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The job name.") var job: String
        @Option(help: "Window time for the outbound file name (ISO 8601); default: now.") var window: String?
        @Option(help: "Log level (trace, debug, info, warning, error).") var logLevel: String = "warning"

        func run() async throws {
            let (configuration, jobs) = try BatchCommand.load(options)
            guard let job = jobs.first(where: { $0.name == self.job }) else {
                printError(
                    "no batch job '\(self.job)' in \(configuration.batchDirectory); known: \(jobs.map(\.name).joined(separator: ", "))"
                )
                throw ExitCode(2)
            }
            let level = Logger.Level(rawValue: logLevel) ?? .warning
            try bootstrapLogging(configuration, level: level, format: .text)
            var windowDate = Date()
            if let window {
                guard let parsed = try? Date(window, strategy: .iso8601) else {
                    printError("--window '\(window)' is not an ISO 8601 time such as 2026-11-25T02:00:00Z")
                    throw ExitCode(2)
                }
                windowDate = parsed
            }
            let environment: BatchEnvironment
            do {
                environment = try BatchEnvironment(
                    hub: configuration, jobs: [job], logger: Logger(label: "crmhub.batch")
                ) { line in
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
            } catch {
                printError(error.description)
                throw ExitCode(2)
            }
            let report = try await BatchRunner(environment: environment).run(job, window: windowDate, trigger: "manual")
            if report.status == .failed { throw ExitCode(1) }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recent runs (newest first) of one job or of all jobs.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The job name; all jobs when omitted.") var job: String?
        @Option(help: "How many runs to show.") var limit: Int = 20

        func run() async throws {
            let configuration = try options.load()
            let state: BatchStateStore
            do {
                state = try BatchStateStore(
                    path: URL(fileURLWithPath: configuration.stateDirectory).appendingPathComponent("batch.sqlite").path
                )
            } catch {
                printError(error.description)
                throw ExitCode(1)
            }
            let reports = try state.history(job: job, limit: limit)
            if reports.isEmpty {
                print("no runs recorded")
                return
            }
            for report in reports {
                print("\(report.startedAt.formatted(.iso8601))  \(BatchRunner.summary(report))")
            }
        }
    }
}
