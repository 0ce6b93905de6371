import CRMTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The `crmhub` executable's admin side as configured: `/mdm` only with `http.token`, health and metrics on their
/// own listener with `http.metrics_port`.
@Suite(.timeLimit(.minutes(3)))
struct AdminListenerTests {
    /// A configuration with a `resolve: true` route (so master data is served) and the given `http:` lines.
    func writeConfig(broker: String, http: String) throws -> (path: String, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-admin-\(UUID().uuidString)")
        // The master-data store (data/crmhub.sqlite by default) is created in an existing folder.
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("crmhub.yaml").path
        try """
        kafka:
          brokers: ["\(broker)"]
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          connect_timeout_seconds: 3
          topic_partitions: 2
        http:
        \(http)
        log:
          format: json
        routes:
          - name: customers
            from: raw.customer
            to: crm.customer
            resolve: true
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, directory)
    }

    func status(_ url: String, token: String? = nil) async -> Int? {
        var request = URLRequest(url: URL(string: url)!)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        guard let (_, response) = try? await URLSession.shared.data(for: request) else { return nil }
        return (response as? HTTPURLResponse)?.statusCode
    }

    @Test(
        "with metrics_port and a token: health and metrics answer on their port without a token, /mdm on the admin port only with it"
    )
    func splitListenersAndTokenProtectedMasterData() async throws {
        let broker = try await offPool { try TansuBroker() }
        defer { broker.stop() }
        let adminPort = try freePort()
        let metricsPort = try freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-token-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenFile = directory.appendingPathComponent("admin-token")
        try "admin-token-for-tests\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        let config = try writeConfig(
            broker: broker.bootstrap,
            http:
                "  port: \(adminPort)\n  metrics_port: \(metricsPort)\n  token: ${file:\(tokenFile.path)}")
        defer { try? FileManager.default.removeItem(at: config.directory) }
        let process = try ChildProcess.crmhub(["run", "--config", config.path])
        defer { process.kill9() }

        let up = await eventually(timeout: .seconds(30), poll: .milliseconds(100)) {
            await status("http://127.0.0.1:\(metricsPort)/healthz") == 200 || !process.isRunning
        }
        try #require(up && process.isRunning, "health on the metrics port: \(process.errorOutput.suffix(1500))")
        #expect(await status("http://127.0.0.1:\(metricsPort)/metrics") == 200)
        #expect(await status("http://127.0.0.1:\(metricsPort)/mdm/customers?email=a%40b.c") == 404)
        let admin = "http://127.0.0.1:\(adminPort)"
        let apiUp = await eventually(timeout: .seconds(10), poll: .milliseconds(100)) {
            await status("\(admin)/mdm/customers?email=a%40b.c") == 401
        }
        #expect(apiUp, "/mdm without a token on the admin port")
        #expect(await status("\(admin)/mdm/customers?email=a%40b.c", token: "admin-token-for-testz") == 401)
        #expect(await status("\(admin)/mdm/customers?email=a%40b.c", token: "admin-token-for-tests") == 200)
        #expect(await status("\(admin)/metrics") == 404)
        #expect(await status("\(admin)/healthz") == 404)
    }

    @Test("without a token /mdm is not served and the hub says so at start; health stays on the admin port")
    func masterDataIsDisabledWithoutAToken() async throws {
        let broker = try await offPool { try TansuBroker() }
        defer { broker.stop() }
        let adminPort = try freePort()
        let config = try writeConfig(broker: broker.bootstrap, http: "  port: \(adminPort)")
        defer { try? FileManager.default.removeItem(at: config.directory) }
        let log = config.directory.appendingPathComponent("crmhub.log").path
        let process = try ChildProcess.crmhub(["run", "--config", config.path], errorPath: log)
        defer { process.kill9() }

        let up = await eventually(timeout: .seconds(30), poll: .milliseconds(100)) {
            await status("http://127.0.0.1:\(adminPort)/healthz") == 200 || !process.isRunning
        }
        try #require(up && process.isRunning, "health on the admin port: \(process.errorOutput.suffix(1500))")
        #expect(await status("http://127.0.0.1:\(adminPort)/metrics") == 200)
        #expect(await status("http://127.0.0.1:\(adminPort)/mdm/customers?email=a%40b.c", token: "anything") == 404)
        #expect(process.errorOutput.contains("admin /mdm endpoints are disabled"))
    }
}
