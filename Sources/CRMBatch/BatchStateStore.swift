import CRMDelivery
import CRMKafka
import CRMStateStore
import Foundation
import GRDB

/// What batch jobs remember across runs and crashes, in one SQLite file (WAL, `synchronous=NORMAL`: survives a
/// process crash or `kill -9`):
/// - **outbound checkpoints**: per job and partition, the next offset to export;
/// - **outbound pending run**: the window name and cut-off offsets of a run that has not committed yet, so a re-run
///   after a crash writes the same file with the same content under the same name;
/// - **inbound files**: per file checksum, the rows acknowledged so far (the row checkpoint) and where the dedup scan
///   of the output topics starts;
/// - **batch_runs**: one row per run (the run report), for `crmhub batch history`;
/// - **schedule**: the last scheduled run time per job, for catch-up after downtime.
public final class BatchStateStore: Sendable {
    private let database: DatabaseQueue

    /// Opens (creating if needed) the store at `path`.
    public init(path: String) throws(BatchError) {
        do {
            database = try StateDatabase.open(path: path, busyTimeout: 10)
            try database.write { db in try db.execute(sql: Self.schema) }
        } catch {
            throw BatchError(.state, "cannot open batch state \(path): \(error)")
        }
    }

    static let schema = """
        CREATE TABLE IF NOT EXISTS outbound_checkpoints (
          job TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
          PRIMARY KEY (job, topic, partition)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS outbound_pending (
          job TEXT PRIMARY KEY, window TEXT NOT NULL, file_name TEXT NOT NULL, cutoff TEXT NOT NULL, started_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS inbound_files (
          sha256 TEXT NOT NULL, job TEXT NOT NULL, file_name TEXT NOT NULL, rows_done INTEGER NOT NULL,
          status TEXT NOT NULL, scan_from TEXT NOT NULL, updated_at REAL NOT NULL,
          PRIMARY KEY (job, sha256)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS batch_runs (
          id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, direction TEXT NOT NULL, trigger TEXT NOT NULL,
          started_at REAL NOT NULL, finished_at REAL, status TEXT NOT NULL, rows_read INTEGER NOT NULL DEFAULT 0,
          rows_produced INTEGER NOT NULL DEFAULT 0, rows_rejected INTEGER NOT NULL DEFAULT 0, files TEXT NOT NULL DEFAULT '',
          checksum TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX IF NOT EXISTS batch_runs_job ON batch_runs (job, id);
        CREATE TABLE IF NOT EXISTS schedule (job TEXT PRIMARY KEY, last_run REAL NOT NULL);
        """

    private func run<T: Sendable>(
        _ what: String, _ body: @escaping @Sendable (Database) throws -> T
    ) throws(BatchError) -> T {
        do {
            return try database.write(body)
        } catch {
            throw BatchError(.state, "\(what): \(error)")
        }
    }

    // MARK: Outbound

    /// The next offset to export per partition of `job` (partitions never exported are missing).
    public func outboundCheckpoint(job: String) throws(BatchError) -> [TopicPartition: Int64] {
        try run("read checkpoint of \(job)") { db in
            var result: [TopicPartition: Int64] = [:]
            let rows = try Row.fetchAll(
                db, sql: "SELECT topic, partition, next_offset FROM outbound_checkpoints WHERE job = ?",
                arguments: [job])
            for row in rows {
                let topic: String = row["topic"]
                let partition: Int32 = row["partition"]
                let offset: Int64 = row["next_offset"]
                result[TopicPartition(topic: topic, partition: partition)] = offset
            }
            return result
        }
    }

    /// A run that wrote nothing committed yet: its window, file name and cut-off.
    public struct PendingOutbound: Sendable, Equatable {
        public var window: String
        public var fileName: String
        public var cutoff: [TopicPartition: Int64]
    }

    /// The pending (uncommitted) run of `job`, if a previous run crashed or failed before committing.
    public func pendingOutbound(job: String) throws(BatchError) -> PendingOutbound? {
        try run("read pending run of \(job)") { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT window, file_name, cutoff FROM outbound_pending WHERE job = ?", arguments: [job])
            else { return nil }
            let cutoffText: String = row["cutoff"]
            return PendingOutbound(
                window: row["window"], fileName: row["file_name"], cutoff: Self.decodeOffsets(cutoffText))
        }
    }

    /// Records the run about to write (before anything is written).
    public func beginOutbound(job: String, pending: PendingOutbound) throws(BatchError) {
        let cutoff = Self.encodeOffsets(pending.cutoff)
        try run("record pending run of \(job)") { db in
            try db.execute(
                sql:
                    "INSERT OR REPLACE INTO outbound_pending (job, window, file_name, cutoff, started_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [job, pending.window, pending.fileName, cutoff, Date().timeIntervalSince1970])
        }
    }

    /// Commits the checkpoint (the pending run's cut-off) and clears the pending run, in one transaction.
    public func commitOutbound(job: String, checkpoint: [TopicPartition: Int64]) throws(BatchError) {
        let entries = checkpoint.map { ($0.key.topic, $0.key.partition, $0.value) }
        try run("commit checkpoint of \(job)") { db in
            for (topic, partition, offset) in entries {
                try db.execute(
                    sql:
                        "INSERT OR REPLACE INTO outbound_checkpoints (job, topic, partition, next_offset) VALUES (?, ?, ?, ?)",
                    arguments: [job, topic, partition, offset])
            }
            try db.execute(sql: "DELETE FROM outbound_pending WHERE job = ?", arguments: [job])
        }
    }

    // MARK: Inbound

    /// An inbound file's progress.
    public struct InboundFile: Sendable, Equatable {
        public enum Status: String, Sendable {
            case inProgress = "in-progress"
            case done
            case rejected
        }

        public var fileName: String
        /// Data rows (1-based row numbers, header excluded) acknowledged or dead-lettered, as one prefix: rows
        /// 1...rowsDone are done.
        public var rowsDone: Int
        public var status: Status
        /// Per output partition, the offset from which a resumed run scans for messages it already produced.
        public var scanFrom: [TopicPartition: Int64]
    }

    public func inboundFile(job: String, sha256: String) throws(BatchError) -> InboundFile? {
        try run("read file state") { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql:
                        "SELECT file_name, rows_done, status, scan_from FROM inbound_files WHERE job = ? AND sha256 = ?",
                    arguments: [job, sha256])
            else { return nil }
            let status: String = row["status"]
            let scan: String = row["scan_from"]
            return InboundFile(
                fileName: row["file_name"], rowsDone: row["rows_done"],
                status: InboundFile.Status(rawValue: status) ?? .inProgress,
                scanFrom: Self.decodeOffsets(scan))
        }
    }

    /// Saves an inbound file's progress (the row checkpoint).
    public func saveInboundFile(job: String, sha256: String, _ file: InboundFile) throws(BatchError) {
        let scan = Self.encodeOffsets(file.scanFrom)
        try run("save row checkpoint of \(file.fileName)") { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO inbound_files (sha256, job, file_name, rows_done, status, scan_from, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    sha256, job, file.fileName, file.rowsDone, file.status.rawValue, scan, Date().timeIntervalSince1970,
                ])
        }
    }

    // MARK: Runs

    /// Records a run's start; returns its id.
    public func startRun(job: String, direction: String, trigger: String, at date: Date) throws(BatchError) -> Int64 {
        try run("record run start of \(job)") { db in
            try db.execute(
                sql:
                    "INSERT INTO batch_runs (job, direction, trigger, started_at, status) VALUES (?, ?, ?, ?, 'running')",
                arguments: [job, direction, trigger, date.timeIntervalSince1970])
            return db.lastInsertedRowID
        }
    }

    /// Records a run's end.
    public func finishRun(id: Int64, _ report: BatchRunReport) throws(BatchError) {
        try run("record run end") { db in
            try db.execute(
                sql: """
                    UPDATE batch_runs SET finished_at = ?, status = ?, rows_read = ?, rows_produced = ?, rows_rejected = ?,
                    files = ?, checksum = ?, detail = ? WHERE id = ?
                    """,
                arguments: [
                    report.finishedAt.timeIntervalSince1970, report.status.rawValue, report.rowsRead,
                    report.rowsProduced,
                    report.rowsRejected, report.files.joined(separator: ","), report.checksums.joined(separator: ","),
                    report.detail, id,
                ])
        }
    }

    /// The latest `limit` runs, newest first, of `job` (or of every job).
    public func history(job: String?, limit: Int = 20) throws(BatchError) -> [BatchRunReport] {
        try run("read history") { db in
            let rows: [Row]
            if let job {
                rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM batch_runs WHERE job = ? ORDER BY id DESC LIMIT ?", arguments: [job, limit])
            } else {
                rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM batch_runs ORDER BY id DESC LIMIT ?", arguments: [limit])
            }
            return rows.map(Self.report)
        }
    }

    static func report(_ row: Row) -> BatchRunReport {
        let started: Double = row["started_at"]
        let finished: Double? = row["finished_at"]
        let files: String = row["files"]
        let checksums: String = row["checksum"]
        let status: String = row["status"]
        return BatchRunReport(
            id: row["id"], job: row["job"], direction: row["direction"], trigger: row["trigger"],
            startedAt: Date(timeIntervalSince1970: started),
            finishedAt: Date(timeIntervalSince1970: finished ?? started),
            status: BatchRunReport.Status(rawValue: status) ?? .running, rowsRead: row["rows_read"],
            rowsProduced: row["rows_produced"],
            rowsRejected: row["rows_rejected"],
            files: files.isEmpty ? [] : files.split(separator: ",").map(String.init),
            checksums: checksums.isEmpty ? [] : checksums.split(separator: ",").map(String.init), detail: row["detail"])
    }

    /// The last scheduled run time of `job` the scheduler started.
    public func lastScheduledRun(job: String) throws(BatchError) -> Date? {
        try run("read schedule") { db in
            try Double.fetchOne(db, sql: "SELECT last_run FROM schedule WHERE job = ?", arguments: [job]).map {
                Date(timeIntervalSince1970: $0)
            }
        }
    }

    public func setLastScheduledRun(job: String, _ date: Date) throws(BatchError) {
        try run("save schedule") { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO schedule (job, last_run) VALUES (?, ?)",
                arguments: [job, date.timeIntervalSince1970])
        }
    }

    // MARK: Encoding

    /// `topic/partition=offset` lines, sorted (stable text for the database and for logs).
    static func encodeOffsets(_ offsets: [TopicPartition: Int64]) -> String {
        offsets.map { "\($0.key.topic)/\($0.key.partition)=\($0.value)" }.sorted().joined(separator: "\n")
    }

    static func decodeOffsets(_ text: String) -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.lastIndex(of: "="), let slash = line[..<equals].lastIndex(of: "/"),
                let partition = Int32(line[line.index(after: slash)..<equals]),
                let offset = Int64(line[line.index(after: equals)...])
            else { continue }
            result[TopicPartition(topic: String(line[..<slash]), partition: partition)] = offset
        }
        return result
    }
}

/// One run's report: what it read, produced and rejected, how long it took, and the files' checksums.
public struct BatchRunReport: Sendable, Equatable {
    public enum Status: String, Sendable {
        case running
        case succeeded
        /// Nothing in the window (outbound) or no file to import (inbound).
        case empty
        case failed
    }

    public var id: Int64
    public var job: String
    public var direction: String
    /// `manual`, `schedule` or `catch-up`.
    public var trigger: String
    public var startedAt: Date
    public var finishedAt: Date
    public var status: Status
    /// Outbound: messages read. Inbound: data rows read.
    public var rowsRead: Int
    /// Outbound: rows written to the file. Inbound: messages acknowledged by Kafka.
    public var rowsProduced: Int
    /// Rows or messages sent to the dead-letter topic.
    public var rowsRejected: Int
    /// Files written (outbound) or imported (inbound).
    public var files: [String]
    /// SHA-256 of each file, in `files` order.
    public var checksums: [String]
    /// Free text: the error of a failed run, the destination of files.
    public var detail: String

    public var duration: TimeInterval { finishedAt.timeIntervalSince(startedAt) }
}
