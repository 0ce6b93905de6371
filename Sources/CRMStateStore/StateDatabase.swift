import Foundation
import GRDB

/// The hub's small state files (delivery state, source checkpoints, mailbox state, batch runs): SQLite in WAL mode with
/// `synchronous = NORMAL`, which survives a process crash (`kill -9`) without an fsync per write.
public enum StateDatabase {
    /// Opens (creating the folder and file if needed) the database at `path`, or an in-memory one when `path` is nil
    /// (tests). `busyTimeout` lets several processes share the file (batch runs next to the daemon).
    public static func open(path: String?, busyTimeout: TimeInterval? = nil) throws -> DatabaseQueue {
        var configuration = Configuration()
        if let busyTimeout { configuration.busyMode = .timeout(busyTimeout) }
        configuration.prepareDatabase { db in
            if db.configuration.readonly == false { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        }
        guard let path else { return try DatabaseQueue(configuration: configuration) }
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        let database = try DatabaseQueue(path: path, configuration: configuration)
        try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        return database
    }

    /// Describes a failed write to the state file at `path` for a log line or `/readyz`: names the file and, when
    /// the disk is full (`SQLITE_FULL`, or an I/O error on a filesystem with no space left), says `ENOSPC`.
    public static func describeWriteFailure(_ error: any Error, path: String?) -> String {
        let file = path ?? "(in memory)"
        var full = false
        if let error = error as? DatabaseError {
            full = error.resultCode == .SQLITE_FULL || (error.resultCode == .SQLITE_IOERR && noSpaceLeft(at: path))
        }
        return full ? "\(file): ENOSPC (no space left on device): \(error)" : "\(file): \(error)"
    }

    /// Whether the filesystem holding `path` has no block left for an unprivileged writer.
    private static func noSpaceLeft(at path: String?) -> Bool {
        guard let path else { return false }
        var status = statvfs()
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return statvfs(folder, &status) == 0 && status.f_bavail == 0
    }
}
