import CRMKafka
import Foundation
import Logging

/// Runs batch jobs: one run at a time per job, each recorded in `batch_runs` with its report, counted in metrics,
/// and announced on the job's `notify_topic` when it fails.
public struct BatchRunner: Sendable {
    public let environment: BatchEnvironment

    public init(environment: BatchEnvironment) {
        self.environment = environment
    }

    /// Runs `job` now. `window` names an outbound file (the scheduled time; a manual run uses the current minute).
    /// Returns the run's report; a failed run is reported (status `.failed`, the error in `detail`), not thrown, except
    /// when the state database itself fails.
    public func run(
        _ job: BatchJob, window: Date = Date(), trigger: String = "manual"
    ) async throws(BatchError) -> BatchRunReport {
        let logger = environment.logger
        let started = Date()
        let id = try environment.state.startRun(
            job: job.name, direction: job.direction.rawValue, trigger: trigger, at: started)
        let metrics = BatchMetrics(job: job.name, direction: job.direction.rawValue)
        logger.info(
            "batch \(job.name): run \(id) started (\(job.direction.rawValue), \(trigger))",
            metadata: ["window": "\(batchWindowName(window))"])
        environment.onProgress?("batch \(job.name): run \(id) started (\(job.direction.rawValue), \(trigger))")
        var report = BatchRunReport(
            id: id, job: job.name, direction: job.direction.rawValue, trigger: trigger, startedAt: started,
            finishedAt: started,
            status: .running, rowsRead: 0, rowsProduced: 0, rowsRejected: 0, files: [], checksums: [], detail: "")
        do {
            switch job.direction {
            case .outbound:
                let outcome = try await OutboundRun(
                    job: job, environment: environment, window: window, metrics: metrics
                ).run()
                report.status = outcome.status
                report.rowsRead = outcome.read
                report.rowsProduced = outcome.written
                report.rowsRejected = outcome.rejected
                report.files = outcome.file.map { [$0] } ?? []
                report.checksums = outcome.checksum.map { [$0] } ?? []
                report.detail = outcome.detail
            case .inbound:
                let outcome = try await InboundRun(job: job, environment: environment, metrics: metrics).run()
                report.status = outcome.status
                report.rowsRead = outcome.read
                report.rowsProduced = outcome.produced
                report.rowsRejected = outcome.rejected
                report.files = outcome.files
                report.checksums = outcome.checksums
                report.detail = outcome.notes.joined(separator: "; ")
            }
        } catch {
            report.status = .failed
            report.detail = error.description
            logger.error("batch \(job.name): run \(id) failed: \(error)")
        }
        report.finishedAt = Date()
        try environment.state.finishRun(id: id, report)
        metrics.runs(report.status).increment()
        metrics.duration.record(report.duration)
        if report.status != .failed { metrics.lastSuccess.record(report.finishedAt.timeIntervalSince1970) }
        let summary = Self.summary(report)
        logger.info("\(summary)")
        environment.onProgress?(summary)
        if report.status == .failed { await notify(job, report) }
        return report
    }

    /// One line: status, rows, duration, files and checksums.
    public static func summary(_ report: BatchRunReport) -> String {
        var text = String(
            format: "batch %@: run %lld %@ in %.1f s: %d read, %d %@, %d rejected", report.job, report.id,
            report.status.rawValue,
            report.duration, report.rowsRead, report.rowsProduced,
            report.direction == "outbound" ? "written" : "produced",
            report.rowsRejected)
        for (file, sum) in zip(report.files, report.checksums) { text += "; \(file) sha256=\(sum)" }
        if !report.detail.isEmpty { text += "; \(report.detail)" }
        return text
    }

    /// Sends a JSON notice of a failed run to the job's `notify_topic`.
    func notify(_ job: BatchJob, _ report: BatchRunReport) async {
        guard let topic = job.notifyTopic else { return }
        let notice: [String: Any] = [
            "job": report.job, "run": report.id, "status": report.status.rawValue, "error": report.detail,
            "started_at": report.startedAt.formatted(.iso8601), "finished_at": report.finishedAt.formatted(.iso8601),
            "rows_read": report.rowsRead, "rows_produced": report.rowsProduced, "rows_rejected": report.rowsRejected,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: notice, options: [.sortedKeys]) else { return }
        do {
            let producer = try KafkaProducer(
                configuration: KafkaProducerConfiguration(client: environment.kafka), logger: environment.logger)
            try await producer.send(ProducerMessage(topic: topic, key: Array(job.name.utf8), value: Array(data)))
            await producer.shutdown()
        } catch {
            environment.logger.error("batch \(job.name): cannot send the failure notice to \(topic): \(error)")
        }
    }
}
