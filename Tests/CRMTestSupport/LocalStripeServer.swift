import Foundation

/// localstripe (a stateful Stripe API fake that sends signed webhooks), started for one test on a free 127.0.0.1
/// port from the venv `deploy/test.sh` creates, and stopped by its PID. Its own CLI binds every interface, so it is
/// started through aiohttp with an explicit host.
public final class LocalStripeServer: Sendable {
    public let port: Int
    private let process: ChildProcess

    public var url: String { "http://127.0.0.1:\(port)" }

    public init() throws {
        let python = repositoryRoot.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestSetupError(
                "the venv's python is missing: run deploy/test.sh (it installs localstripe into .venv)")
        }
        port = try freePort()
        process = try ChildProcess(
            python,
            [
                "-c",
                "from aiohttp import web; from localstripe.server import app; web.run_app(app, host='127.0.0.1', port=\(port), print=None)",
            ],
            outputPath: "/dev/null")
        let deadline = Date().addingTimeInterval(20)
        while !canConnect(port: port) {
            guard Date() < deadline, process.isRunning else {
                stop()
                throw TestSetupError(
                    "localstripe did not start listening on 127.0.0.1:\(port) (is localstripe installed in .venv?)")
            }
            usleep(100_000)
        }
    }

    deinit { stop() }

    /// Stops the server by PID (SIGKILL: children of the test runner ignore SIGTERM).
    public func stop() {
        process.stop(grace: 0)
    }
}
