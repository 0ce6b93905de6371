import Foundation

/// A file in a drop folder.
public struct DroppedFile: Sendable, Hashable {
    /// The file name inside the folder (no directory part).
    public var name: String
    /// Size in bytes, when the folder reports it.
    public var size: Int64?
    /// Last modification time, when the folder reports it.
    public var modified: Date?

    public init(name: String, size: Int64?, modified: Date?) {
        self.name = name
        self.size = size
        self.modified = modified
    }
}

/// A folder that batch jobs exchange files through: a local directory or a remote one (SFTP).
///
/// Jobs always stage through local files, so memory stays constant whatever the file size: an outbound job writes
/// a local file as it streams, then ``publish(_:as:)`` it; an inbound job ``fetch(_:to:)``es a file, then streams
/// it. Every method is safe to retry: ``publish(_:as:)`` writes `NAME.part` and renames it, so a reader never sees
/// a partial file and a re-run replaces rather than duplicates.
public protocol FileDrop: Sendable {
    /// A label safe to log (no credentials).
    var description: String { get }
    /// Regular files directly in the folder whose names match `pattern` (shell glob: `*`, `?`, `[...]`), sorted by
    /// name. `.part` files are never listed.
    func list(matching pattern: String) async throws(TransportError) -> [DroppedFile]
    /// Copies `name` from the folder to the local file `destination` (replaced if it exists).
    func fetch(_ name: String, to destination: URL) async throws(TransportError)
    /// Uploads the local file `source` as `name.part`, then renames it to `name` (replacing an existing `name`).
    func publish(_ source: URL, as name: String) async throws(TransportError)
    /// Moves `name` into the subfolder `subfolder` (created if missing), e.g. `archive` or `rejected`.
    func move(_ name: String, into subfolder: String) async throws(TransportError)
    /// True when a file called `name` exists in the folder.
    func exists(_ name: String) async throws(TransportError) -> Bool
}

/// A drop folder on the local file system.
public struct LocalFileDrop: FileDrop {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    public var description: String { "file://\(directory.path)" }

    public func list(matching pattern: String) async throws(TransportError) -> [DroppedFile] {
        let manager = FileManager.default
        let names: [String]
        do {
            names = try manager.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw failure("cannot list: \(error.localizedDescription)")
        }
        var files: [DroppedFile] = []
        for name in names.sorted() where !name.hasSuffix(".part") && globMatches(pattern, name) {
            let path = directory.appendingPathComponent(name).path
            guard let attributes = try? manager.attributesOfItem(atPath: path),
                attributes[.type] as? FileAttributeType == .typeRegular
            else { continue }
            let size = (attributes[.size] as? NSNumber)?.int64Value
            files.append(DroppedFile(name: name, size: size, modified: attributes[.modificationDate] as? Date))
        }
        return files
    }

    public func fetch(_ name: String, to destination: URL) async throws(TransportError) {
        try replace(destination, with: directory.appendingPathComponent(name))
    }

    /// Copies `source` to `NAME.part`, flushes it to disk, renames it to `NAME` and flushes the folder: once this
    /// returns, the published file survives a power loss, so a checkpoint committed after it never points past a
    /// file that is not there.
    public func publish(_ source: URL, as name: String) async throws(TransportError) {
        let part = directory.appendingPathComponent(name + ".part")
        try replace(part, with: source)
        try flush(part.path, what: "\(name).part")
        guard rename(part.path, directory.appendingPathComponent(name).path) == 0 else {
            throw failure("cannot rename \(name).part to \(name): \(String(cString: strerror(errno)))")
        }
        try flush(directory.path, what: "the folder")
    }

    public func move(_ name: String, into subfolder: String) async throws(TransportError) {
        let folder = directory.appendingPathComponent(subfolder)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw failure("cannot create \(subfolder)/: \(error.localizedDescription)")
        }
        guard rename(directory.appendingPathComponent(name).path, folder.appendingPathComponent(name).path) == 0 else {
            throw failure("cannot move \(name) into \(subfolder)/: \(String(cString: strerror(errno)))")
        }
        try flush(folder.path, what: "\(subfolder)/")
        try flush(directory.path, what: "the folder")
    }

    public func exists(_ name: String) async throws(TransportError) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path)
    }

    /// `fsync` of a file or a folder (a folder's entry list: a rename is durable only once its folder is synced).
    private func flush(_ path: String, what: String) throws(TransportError) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw failure("cannot open \(what) to flush it: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw failure("cannot flush \(what) to disk: \(String(cString: strerror(errno)))")
        }
    }

    /// Copies `source` to `destination` (replacing it, with `source`'s permissions). On Linux the kernel copies it in
    /// large pieces (`sendfile`); Foundation's `copyItem` sends 4 KiB per system call, about 0.2 s of a 170 MB
    /// import's start.
    private func replace(_ destination: URL, with source: URL) throws(TransportError) {
        let what = "cannot copy \(source.lastPathComponent) to \(destination.path)"
        let input = open(source.path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw failure("\(what): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        var status = stat()
        guard fstat(input, &status) == 0 else { throw failure("\(what): \(String(cString: strerror(errno)))") }
        if unlink(destination.path) != 0 && errno != ENOENT {
            throw failure("\(what): cannot remove the old copy: \(String(cString: strerror(errno)))")
        }
        let output = open(destination.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, status.st_mode & 0o777)
        guard output >= 0 else { throw failure("\(what): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        #if canImport(Glibc)
            while true {
                let sent = sendfile(output, input, nil, 1 << 30)
                if sent > 0 { continue }
                if sent == 0 { return }
                if errno == EINTR { continue }
                // A file system that cannot: copied through a buffer from where the kernel stopped.
                if errno == EINVAL || errno == ENOSYS { break }
                throw failure("\(what): \(String(cString: strerror(errno)))")
            }
        #endif
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count == 0 { return }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("\(what): \(String(cString: strerror(errno)))")
            }
            var written = 0
            while written < count {
                let step = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, count - written) }
                if step < 0 {
                    if errno == EINTR { continue }
                    throw failure("\(what): \(String(cString: strerror(errno)))")
                }
                written += step
            }
        }
    }

    private func failure(_ message: String) -> TransportError {
        TransportError(kind: .other, curlCode: 0, message: message, target: description)
    }
}

/// Shell-style glob match (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`) of a whole file name.
public func globMatches(_ pattern: String, _ name: String) -> Bool {
    fnmatch(pattern, name, 0) == 0
}
