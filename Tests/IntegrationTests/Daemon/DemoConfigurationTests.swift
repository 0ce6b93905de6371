import CRMTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The quick-start demo (`deploy/demo/crmhub.yaml`) as `crmhub run` runs it, on a test broker, a recording HTTP
/// target and free ports: the contact form, the legacy batch import, identity resolution, the consent-checked
/// marketing sink and the timeline each move data.
///
/// The configuration is the shipped one, laid out in a temporary copy of the checkout's shape so that its relative
/// paths (`../../data/...`, the batch jobs' drop folders) land in the temporary folder: only the broker address, the admin
/// token file, the sink's target address and the shipped folders (mappings, rules) are rewritten.
@Suite(.timeLimit(.minutes(4)))
struct DemoConfigurationTests {
    static let demo = repositoryRoot.appendingPathComponent("deploy/demo")

    /// Writes the temporary checkout and returns the configuration path.
    static func layOut(in root: URL, broker: String, target: String, token: String) throws -> String {
        let files = FileManager.default
        let demo = root.appendingPathComponent("deploy/demo")
        let connectors = demo.appendingPathComponent("connectors")
        let imports = root.appendingPathComponent("data/demo/imports")
        try files.createDirectory(at: connectors, withIntermediateDirectories: true)
        try files.createDirectory(at: imports, withIntermediateDirectories: true)
        // The batch jobs' drop folders are relative to their folder: reached through a link, they land under `root`.
        try files.createSymbolicLink(
            at: demo.appendingPathComponent("batch"), withDestinationURL: Self.demo.appendingPathComponent("batch"))
        for name in try files.contentsOfDirectory(atPath: Self.demo.appendingPathComponent("connectors").path) {
            let text = try String(
                contentsOf: Self.demo.appendingPathComponent("connectors/\(name)"), encoding: .utf8)
            try text.replacingOccurrences(of: "http://127.0.0.1:8099", with: target)
                .write(to: connectors.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try files.copyItem(
            at: Self.demo.appendingPathComponent("samples/legacy-customers.jsonl"),
            to: imports.appendingPathComponent("legacy-customers.jsonl"))
        let tokenFile = root.appendingPathComponent("data/demo/admin-token")
        try token.write(to: tokenFile, atomically: true, encoding: .utf8)
        let shipped = try String(contentsOf: Self.demo.appendingPathComponent("crmhub.yaml"), encoding: .utf8)
        let configuration =
            shipped
            .replacingOccurrences(of: "127.0.0.1:19092", with: broker)
            .replacingOccurrences(of: "${file:data/demo/admin-token}", with: "${file:\(tokenFile.path)}")
            .replacingOccurrences(
                of: "mappings: ../../Mappings",
                with: "mappings: \(repositoryRoot.appendingPathComponent("Mappings").path)"
            )
            .replacingOccurrences(
                of: "rules: rules", with: "rules: \(Self.demo.appendingPathComponent("rules").path)")
        #expect(configuration != shipped)
        let path = demo.appendingPathComponent("crmhub.yaml").path
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theDemoResolvesImportsDeliversWithConsentAndKeepsTheTimeline() async throws {
        let broker = try await offPool { try TansuBroker() }
        defer { broker.stop() }
        let target = try RecordingHTTPServer()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-demo-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        let token = "demo-test-token"
        let config = try Self.layOut(in: root, broker: broker.bootstrap, target: target.url, token: token)
        let httpPort = try freePort()
        let ingressPort = try freePort()
        let errors = root.appendingPathComponent("crmhub.stderr").path
        let process = try ChildProcess.crmhub(
            [
                "run", "--config", config, "--state-dir", root.appendingPathComponent("state").path,
                "--http-port", "\(httpPort)", "--ingress-port", "\(ingressPort)",
            ], errorPath: errors)
        defer { process.kill9() }
        let admin = "http://127.0.0.1:\(httpPort)"

        func get(_ url: String) async -> Data? {
            var request = URLRequest(url: URL(string: url)!)
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            guard let (data, response) = try? await URLSession.shared.data(for: request),
                (response as? HTTPURLResponse)?.statusCode == 200
            else { return nil }
            return data
        }
        /// The golden records `/mdm/customers?email=` answers: (golden id, member systems).
        func golden(_ email: String) async -> [(id: String, systems: [String])] {
            guard let data = await get("\(admin)/mdm/customers?email=\(email)"),
                let records = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
            else { return [] }
            return records.map { record in
                let members = record["members"] as? [[String: Any]] ?? []
                return (record["id"] as? String ?? "", members.compactMap { $0["system"] as? String }.sorted())
            }
        }
        func post(_ form: String) async throws -> Int {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(ingressPort)/forms/contact")!)
            request.httpMethod = "POST"
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(form.utf8)
            let (_, response) = try await URLSession.shared.data(for: request)
            return (response as? HTTPURLResponse)?.statusCode ?? 0
        }
        func suppressed() async -> Int {
            guard let data = await get("\(admin)/metrics") else { return -1 }
            let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first {
                $0.hasPrefix("crmhub_sink_suppressed_total{") && $0.contains("sink=\"marketing-offers\"")
                    && $0.contains("reason=\"consent\"")
            }
            return line.flatMap { $0.split(separator: " ").last.flatMap { Int($0) } } ?? 0
        }
        func delivered(_ email: String) -> Bool {
            target.records().contains { ($0["body"] as? String)?.contains(email) == true }
        }

        let ready = await eventually(timeout: .seconds(60), poll: .milliseconds(250)) {
            await get("\(admin)/readyz") != nil
        }
        try #require(ready, "the demo daemon is ready: \(process.errorOutput.suffix(2000))")

        // The contact form: a newcomer who opts in, and one who does not.
        #expect(
            try await post(
                "first_name=Grace&last_name=Hopper&email=grace.hopper%40example.co.uk&message=Send+me+offers&marketing_opt_in=yes"
            ) == 202)
        #expect(
            try await post("first_name=Alan&last_name=Turing&email=alan.turing%40example.co.uk&message=Just+a+question")
                == 202)
        let grace = await eventually(timeout: .seconds(60)) {
            await golden("grace.hopper%40example.co.uk").count == 1
        }
        #expect(grace, "the form post became a golden customer")

        // The scheduled legacy import (every minute) brings 50 customers through the same resolve route.
        let imported = await eventually(timeout: .seconds(120), poll: .milliseconds(500)) {
            await golden("charles.babbage%40example.co.uk").first?.systems == ["crm"]
        }
        #expect(imported, "the batch import produced customers that resolve")
        #expect(
            FileManager.default.fileExists(
                atPath: root.appendingPathComponent("data/demo/imports/archive/legacy-customers.jsonl").path))

        // Ada is in the legacy file; her form post joins her imported golden record and lands on its timeline.
        let ada = await golden("ada.lovelace%40example.co.uk")
        #expect(ada.count == 1 && ada.first?.systems == ["crm"])
        #expect(
            try await post(
                "first_name=Ada&last_name=Lovelace&email=ada.lovelace%40example.co.uk&message=Where+is+my+order%3F&submission_id=77"
            ) == 202)
        let joined = await eventually(timeout: .seconds(60)) {
            await golden("ada.lovelace%40example.co.uk").first?.systems == ["crm", "web"]
        }
        #expect(joined, "identity resolution joined the form post to the imported customer")
        let adaId = ada.first?.id ?? "-"
        let timeline = await eventually(timeout: .seconds(60)) {
            guard let data = await get("\(admin)/customers/\(adaId)/timeline") else { return false }
            return String(decoding: data, as: UTF8.self).contains("web-77")
        }
        #expect(timeline, "the timeline lists the form")

        // Consent: opted-in customers (Grace's form, Charles's legacy flag) reach the target; Alan is suppressed.
        let deliveries = await eventually(timeout: .seconds(60)) {
            delivered("grace.hopper@example.co.uk") && delivered("charles.babbage@example.co.uk")
        }
        #expect(deliveries, "opted-in customers reached the HTTP target")
        #expect(await eventually(timeout: .seconds(30)) { await suppressed() >= 30 })
        #expect(!delivered("alan.turing@example.co.uk"), "a customer without consent is not delivered")
        #expect(!delivered("ada.lovelace@example.co.uk"), "Ada opted out in the legacy export and did not opt in")

        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)))
    }
}
