import CRMTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `crmhub run`'s `/readyz` and `/metrics` as a monitoring system sees them: every sink and source listed with its
/// state, the build info and the process metrics.
@Suite(.timeLimit(.minutes(3)))
struct DaemonReadinessTests {
    func body(_ url: String) async -> (Int, String)? {
        guard let (data, response) = try? await URLSession.shared.data(from: URL(string: url)!),
            let status = (response as? HTTPURLResponse)?.statusCode
        else { return nil }
        return (status, String(decoding: data, as: UTF8.self))
    }

    @Test func readyzListsTheSinkAndTheSourceAndMetricsTheBuildAndProcess() async throws {
        let broker = try TansuBroker()
        let httpPort = try freePort()
        let folder = try temporaryFolder([
            "crmhub.yaml": """
            kafka:
              brokers: ["\(broker.bootstrap)"]
              session_timeout_ms: 2000
              heartbeat_interval_ms: 500
              connect_timeout_seconds: 5
              topic_partitions: 1
            http:
              port: \(httpPort)
            connectors: connectors
            state_dir: state
            routes:
              - name: forms
                from: raw.forms
                to: crm.forms
            """
        ])
        // temporaryFolder writes flat files: the connectors folder is made here.
        try FileManager.default.createDirectory(atPath: "\(folder)/connectors", withIntermediateDirectories: true)
        for (name, text) in [
            (
                "archive.yaml",
                "name: archive\nkind: process\nrole: sink\ncommand: [sleep, \"120\"]\ntopic: crm.forms\n"
            ),
            ("feed.yaml", "name: feed\nkind: process\nrole: source\ncommand: [sleep, \"120\"]\ntopic: raw.forms\n"),
        ] {
            try text.write(toFile: "\(folder)/connectors/\(name)", atomically: true, encoding: .utf8)
        }
        let process = try ChildProcess.crmhub(["run", "--config", "\(folder)/crmhub.yaml"])
        defer { process.kill9() }

        var readiness = ""
        let ready = await eventually(timeout: .seconds(30), poll: .milliseconds(200)) {
            guard let (status, text) = await body("http://127.0.0.1:\(httpPort)/readyz") else { return false }
            readiness = text
            return status == 200
        }
        #expect(ready, "\(readiness)\n\(process.errorOutput.suffix(2_000))")
        #expect(readiness.contains(#""kind":"sink""#) && readiness.contains(#""name":"archive\/main""#), "\(readiness)")
        #expect(readiness.contains(#""kind":"source""#) && readiness.contains(#""name":"feed""#), "\(readiness)")
        #expect(readiness.contains(#""kind":"route""#) && readiness.contains(#""name":"forms""#), "\(readiness)")

        let metrics = await body("http://127.0.0.1:\(httpPort)/metrics")?.1 ?? ""
        #expect(metrics.contains("crmhub_build_info{"), "\(metrics.prefix(2_000))")
        #expect(metrics.contains(#"version="0.1.0""#))
        for name in ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"] {
            #expect(metrics.contains("\n\(name) "), "\(name)")
        }

        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)), "exits within the shutdown bound")
        #expect(process.terminationStatus == 0)
    }
}
