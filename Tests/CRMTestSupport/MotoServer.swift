import Foundation

/// A local S3 (`moto_server` from PyPI `moto[server]`, in the venv `deploy/lib/env.sh` sets up) on a free 127.0.0.1
/// port, stopped by its PID. It keeps its objects in memory: a broker that stores on it (``TansuBroker`` with
/// ``TansuBroker/Storage/s3(_:bucket:)``) keeps its data across its own restarts for as long as this server runs.
public final class MotoServer: Sendable {
    public let port: Int
    private let process: ChildProcess

    /// The endpoint S3 clients are given (`AWS_ENDPOINT`).
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    public init() throws {
        let binary = try Self.locateBinary()
        port = try freePort()
        process = try ChildProcess(binary, ["-H", "127.0.0.1", "-p", String(port)], outputPath: "/dev/null")
        let deadline = Date().addingTimeInterval(20)
        while !canConnect(port: port) {
            guard Date() < deadline, process.isRunning else {
                stop()
                throw TestSetupError("moto_server did not start listening on 127.0.0.1:\(port)")
            }
            usleep(50_000)
        }
    }

    deinit { stop() }

    /// Creates `bucket` (an unsigned `PUT /bucket`, which moto accepts), with curl(1) to stay independent of the code
    /// under test.
    public func createBucket(_ bucket: String) throws {
        do {
            _ = try runCapturingOutput("/usr/bin/curl", ["-sf", "-X", "PUT", "\(endpoint)/\(bucket)"], timeout: 30)
        } catch {
            throw TestSetupError("cannot create the S3 bucket \(bucket) on moto_server: \(error)")
        }
    }

    /// Stops the server by PID.
    public func stop() {
        process.stop(grace: 0)
    }

    static func locateBinary() throws -> String {
        let candidate = repositoryRoot.appendingPathComponent(".venv/bin/moto_server").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        throw TestSetupError(
            "moto_server not found in .venv: run deploy/test.sh (ensure_python_env installs moto[server])")
    }
}
