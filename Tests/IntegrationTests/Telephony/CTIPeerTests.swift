import CRMKafka
import CRMModel
import CRMTestSupport
import Foundation
import Testing

@testable import CRMTelephony

/// Real peers: Tansu (Kafka), Kamailio (evapi) driven by SIPp, and a scripted AMI peer replaying recorded Asterisk
/// frames (Asterisk is not packaged in Debian).
@Suite("CTI connector with real peers", .serialized)
struct CTIPeerTests {
    /// The secret the CTI HTTP input requires and Kamailio sends (HUB_EVENTS_TOKEN).
    static let eventsToken = "cti-events-token-for-tests"

    static let interactions = "cti.interactions"
    static let screenPops = "cti.screenpops"

    func makeProcessor(_ bootstrap: String, name: String) throws -> CallEventProcessor {
        CallEventProcessor(
            configuration: .init(name: name, interactionTopic: Self.interactions, screenPopTopic: Self.screenPops),
            producer: try KafkaTestClient.producer(bootstrap, lingerMilliseconds: 1),
            lookup: try StaticCustomerTable(csv: Array(CTIFixtures.customersCSV.utf8), defaultRegion: "GB"),
            logger: KafkaTestClient.logger)
    }

    @Test(
        "calls through Kamailio become one Interaction and one screen-pop each; the known caller is resolved; a 486 call fails with its code"
    )
    func kamailioCalls() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        let kamailio = try await offPool { try KamailioServer() }
        defer { kamailio.stop() }
        try await KafkaTestClient.createTopics(broker.bootstrap, [Self.interactions, Self.screenPops])
        let processor = try makeProcessor(broker.bootstrap, name: "kamailio-test")
        let connector = CTIConnector(
            source: .kamailioEvapi(host: "127.0.0.1", port: kamailio.evapiPort), processor: processor,
            logger: KafkaTestClient.logger)
        let run = Task { try await connector.run() }
        defer { run.cancel() }
        let connected = await eventually(timeout: .seconds(10)) { connector.status.isConnected }
        try #require(connected, "the connector did not connect to Kamailio's evapi")

        let calls = 20
        try await Self.placeCalls(calls, through: kamailio, caller: "02079460018", agent: "2001")
        try await Self.placeBusyCall(through: kamailio, caller: "07700900999", agent: "2002")

        let ended = await eventually(timeout: .seconds(20)) { await processor.published.interactions >= calls + 1 }
        let published = await processor.published
        #expect(ended, "published: \(published)")
        let interactions = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: Self.interactions, count: calls + 1, timeout: .seconds(30))
        let pops = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: Self.screenPops, count: calls + 1, timeout: .seconds(30))
        #expect(interactions.count == calls + 1)
        #expect(pops.count == calls + 1)

        let answered = interactions.filter { $0.value["outcome"] == "answered" }
        #expect(answered.count == calls)
        #expect(Set(answered.map(\.key)).count == calls)
        for interaction in answered {
            #expect(CanonicalEntity.interaction.validate(interaction.value) == [])
            #expect(interaction.value["customerRef"] == "C-1001")
            #expect(interaction.value["customerPhone"] == "+442079460018")
            #expect(interaction.value["agentExtension"] == "2001")
            #expect(interaction.value["answeredAt"]?.stringValue != nil)
        }
        let failed = interactions.filter { $0.value["outcome"] == "failed" }
        #expect(failed.count == 1)
        #expect(failed.first?.value["sipCode"] == .number("486"))
        #expect(failed.first?.value["customerRef"] == .null)
        #expect(failed.first?.value["customerPhone"] == "+447700900999")

        let known = pops.filter { $0.key == "2001" }
        #expect(known.count == calls)
        for pop in known {
            #expect(pop.value["customer"]?["ref"] == "C-1001")
            #expect(pop.value["customer"]?["displayName"] == "Ada Lovelace")
            #expect(pop.value["openTickets"]?[0]?["id"] == "T-77")
        }
        let unknown = pops.filter { $0.key == "2002" }
        #expect(unknown.count == 1)
        #expect(unknown.first?.value["customer"] == .null)
        #expect(unknown.first?.value["callerE164"] == "+447700900999")
        let latency = processor.latencies.summary()
        #expect(latency.count == calls + 1)
        print("CTI Kamailio test: event → screen-pop acknowledged \(latency)")
    }

    /// Places `calls` answered calls from `caller` to extension `agent` through Kamailio with SIPp (UAS and UAC).
    static func placeCalls(_ calls: Int, through kamailio: KamailioServer, caller: String, agent: String) async throws {
        let uas = try SIPpAgent(scenario: "uas.xml", arguments: ["-m", "\(calls)"])
        try await uas.waitUntilListening()
        let uac = try SIPpAgent(
            scenario: "uac.xml",
            arguments: [
                "127.0.0.1:\(kamailio.sipPort)", "-s", agent, "-key", "uas", "127.0.0.1:\(uas.port)", "-key", "caller",
                caller,
                "-d", "100", "-m", "\(calls)", "-r", "20",
            ])
        let uacStatus = await uac.waitForExit(timeout: .seconds(60))
        #expect(
            uacStatus == 0,
            "SIPp UAC: \(uac.diagnostics)\nSIPp UAS: \(uas.diagnostics)\nKamailio: \(kamailio.log.suffix(1500))")
        _ = await uas.waitForExit(timeout: .seconds(10))
    }

    /// Places one call from `caller` to extension `agent` that the callee answers 486 Busy Here.
    static func placeBusyCall(through kamailio: KamailioServer, caller: String, agent: String) async throws {
        let uas = try SIPpAgent(scenario: "uas-busy.xml", arguments: ["-m", "1"])
        try await uas.waitUntilListening()
        let uac = try SIPpAgent(
            scenario: "uac-busy.xml",
            arguments: [
                "127.0.0.1:\(kamailio.sipPort)", "-s", agent, "-key", "uas", "127.0.0.1:\(uas.port)", "-key", "caller",
                caller, "-m", "1",
            ])
        let status = await uac.waitForExit(timeout: .seconds(30))
        #expect(status == 0, "SIPp busy UAC: \(uac.diagnostics)\nSIPp busy UAS: \(uas.diagnostics)")
        _ = await uas.waitForExit(timeout: .seconds(10))
    }

    @Test(
        "a dropped evapi connection (Kamailio killed) is retried with backoff; calls after Kamailio is back are all published"
    )
    func evapiReconnectsAfterKamailioCrash() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        let first = try await offPool { try KamailioServer() }
        defer { first.stop() }
        try await KafkaTestClient.createTopics(broker.bootstrap, [Self.interactions, Self.screenPops])
        let processor = try makeProcessor(broker.bootstrap, name: "kamailio-drop")
        let connector = CTIConnector(
            source: .kamailioEvapi(host: "127.0.0.1", port: first.evapiPort), processor: processor,
            initialBackoff: .milliseconds(50),
            maxBackoff: .milliseconds(400), logger: KafkaTestClient.logger)
        let run = Task { try await connector.run() }
        defer { run.cancel() }
        try #require(await eventually(timeout: .seconds(10)) { connector.status.isConnected })
        try await Self.placeCalls(3, through: first, caller: "02079460018", agent: "2001")
        try #require(await eventually(timeout: .seconds(20)) { await processor.published.interactions >= 3 })

        first.crash()
        let dropped = await eventually(timeout: .seconds(10)) { !connector.status.isConnected }
        #expect(dropped, "the connector did not notice that Kamailio died")
        // Down for a while: the connector keeps retrying (backoff capped at 400 ms) without crashing or spinning.
        try await Task.sleep(for: .seconds(2))
        #expect(connector.status.connections == 1)

        let second = try await offPool { try KamailioServer(sipPort: first.sipPort, evapiPort: first.evapiPort) }
        defer { second.stop() }
        let reconnected = await eventually(timeout: .seconds(10)) { connector.status.isConnected }
        #expect(reconnected, "the connector did not reconnect to the restarted Kamailio")
        #expect(connector.status.connections == 2)
        try await Self.placeCalls(4, through: second, caller: "02079460018", agent: "2001")

        let ended = await eventually(timeout: .seconds(20)) { await processor.published.interactions >= 7 }
        let published = await processor.published
        #expect(ended, "published: \(published)")
        let interactions = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: Self.interactions, count: 7, timeout: .seconds(30))
        #expect(interactions.count == 7)
        #expect(Set(interactions.map(\.key)).count == 7)
        #expect(interactions.allSatisfy { $0.value["outcome"] == "answered" && $0.value["customerRef"] == "C-1001" })
    }

    @Test(
        "crmhub run with a cti-kamailio connector file publishes the Interactions and screen-pops of calls through Kamailio, answered and busy, over evapi and over http_client",
        arguments: ["evapi", "http"])
    func daemonWithKamailioConnector(input: String) async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        let ingressPort = try freePort()
        let kamailio = try await offPool {
            try KamailioServer(
                defines: input == "http"
                    ? [
                        "HUB_EVENTS_URL": "\"http://127.0.0.1:\(ingressPort)/cti/kamailio\"",
                        "HUB_EVENTS_TIMEOUT": "12", "HUB_EVENTS_TOKEN": "\"\(Self.eventsToken)\"",
                    ] : [:])
        }
        defer { kamailio.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-cti-daemon-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let connectors = directory.appendingPathComponent("connectors")
        try FileManager.default.createDirectory(at: connectors, withIntermediateDirectories: true)
        try CTIFixtures.customersCSV.write(
            to: directory.appendingPathComponent("customers.csv"), atomically: true, encoding: .utf8)
        let tokenFile = directory.appendingPathComponent("cti-token")
        try Self.eventsToken.write(to: tokenFile, atomically: true, encoding: .utf8)
        let inputLines =
            input == "http"
            ? "http_path: /cti/kamailio\nauth:\n  scheme: bearer\n  secret: ${file:\(tokenFile.path)}"
            : "evapi: 127.0.0.1:\(kamailio.evapiPort)"
        try """
        name: pbx
        kind: cti-kamailio
        \(inputLines)
        interaction_topic: crm.interaction
        screen_pop_topic: cti.screenpop
        customers_csv: \(directory.appendingPathComponent("customers.csv").path)
        """.write(to: connectors.appendingPathComponent("pbx.yaml"), atomically: true, encoding: .utf8)
        let httpPort = try freePort()
        let config = directory.appendingPathComponent("crmhub.yaml")
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          connect_timeout_seconds: 3
          topic_partitions: 2
        connectors: connectors
        state_dir: state
        http:
          port: \(httpPort)
        ingress:
          host: 127.0.0.1
          port: \(ingressPort)
        log:
          format: json
        routes:
          - name: forms
            from: raw.forms
            to: crm.forms
        """.write(to: config, atomically: true, encoding: .utf8)
        let log = directory.appendingPathComponent("crmhub.log")
        let daemon = try ChildProcess.crmhub(["run", "--config", config.path], errorPath: log.path)
        defer { daemon.kill9() }
        let readyLine = input == "http" ? "ingress listening" : "CTI source connected"
        let connected = await eventually(timeout: .seconds(30)) {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains(readyLine) || !daemon.isRunning
        }
        let daemonLog = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try #require(
            connected && daemon.isRunning, "crmhub is not ready for \(input) events: \(daemonLog.suffix(2000))")

        let calls = 3
        try await Self.placeCalls(calls, through: kamailio, caller: "02079460018", agent: "2001")
        try await Self.placeBusyCall(through: kamailio, caller: "07700900999", agent: "2002")
        let interactions = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: "crm.interaction", count: calls + 1, timeout: .seconds(30))
        #expect(interactions.count == calls + 1)
        let answered = interactions.filter { $0.value["outcome"] == "answered" }
        #expect(answered.count == calls)
        #expect(answered.allSatisfy { $0.value["customerRef"] == "C-1001" && $0.value["agentExtension"] == "2001" })
        #expect(interactions.filter { $0.value["outcome"] == "failed" }.map { $0.value["sipCode"] } == [.number("486")])
        let pops = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: "cti.screenpop", count: calls + 1, timeout: .seconds(30))
        #expect(pops.count == calls + 1)
        #expect(pops.filter { $0.key == "2001" }.allSatisfy { $0.value["customer"]?["displayName"] == "Ada Lovelace" })
        #expect(!kamailio.log.contains("crmhub CTI event not stored"), "Kamailio: \(kamailio.log.suffix(1500))")
    }

    static func amiScripts() throws -> [String] {
        let text = try String(
            contentsOf: repositoryRoot.appendingPathComponent("deploy/cti/asterisk-ami-sample.txt"), encoding: .utf8)
        let body = text.components(separatedBy: "\r\n").filter { !$0.hasPrefix(";") }.joined(separator: "\r\n")
        return body.components(separatedBy: "--- reconnect ---\r\n").map {
            $0.trimmingPrefix(while: { $0 == "\r\n" || $0 == "\n" })
        }.map(String.init)
    }

    @Test(
        "recorded Asterisk AMI events become Interactions and screen-pops; the connector logs in and reconnects mid-call"
    )
    func asteriskAMI() async throws {
        let scripts = try Self.amiScripts()
        try #require(scripts.count == 2)
        let broker = try TansuBroker()
        defer { broker.stop() }
        // On the reconnect, Asterisk still lists the second call (it rings across the reconnect): it is not closed early.
        let ami = try ScriptedAMIServer(
            username: "crmhub", secret: "s3cret", scripts: scripts, activeCalls: [[], ["1700000100.5"]])
        defer { ami.stop() }
        try await KafkaTestClient.createTopics(broker.bootstrap, [Self.interactions, Self.screenPops])
        let processor = try makeProcessor(broker.bootstrap, name: "ami-test")
        let connector = CTIConnector(
            source: .asteriskAMI(host: "127.0.0.1", port: ami.port, username: "crmhub", secret: "s3cret"),
            processor: processor,
            initialBackoff: .milliseconds(50), logger: KafkaTestClient.logger)
        let run = Task { try await connector.run() }
        defer { run.cancel() }

        let ended = await eventually(timeout: .seconds(20)) { await processor.published.interactions >= 2 }
        let published = await processor.published
        #expect(ended, "published: \(published), AMI logins: \(ami.logins)")
        #expect(ami.logins.count >= 2 && ami.logins.allSatisfy(\.accepted))
        #expect(connector.status.connections >= 2)

        let interactions = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: Self.interactions, count: 2, timeout: .seconds(30))
        let pops = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: Self.screenPops, count: 4, timeout: .seconds(30))
        let byKey = Dictionary(interactions.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let answered = try #require(byKey["call-1700000000.1"])
        #expect(answered["outcome"] == "answered")
        #expect(answered["durationSeconds"] == .number("30"))
        #expect(answered["agentExtension"] == "201")
        #expect(answered["customerRef"] == "C-1001")
        #expect(answered["startedAt"] == "2023-11-14T22:13:20.100Z")
        #expect(answered["source"] == "asterisk")
        let busy = try #require(byKey["call-1700000100.5"])
        #expect(busy["outcome"] == "failed")
        #expect(busy["sipCode"] == .number("486"))
        #expect(busy["customerPhone"] == "+447700900123")
        #expect(Set(pops.map(\.key)) == ["600", "201", "202"])
        #expect(pops.count == 4)
        #expect(pops.first(where: { $0.key == "201" })?.value["customer"]?["ref"] == "C-1001")
    }

    static func amiFrame(_ fields: [(String, String)]) -> String {
        fields.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
    }

    @Test(
        "on a reconnect, calls Asterisk no longer lists ended while the hub was away: closed as unended; listed calls go on"
    )
    func amiReconnectClosesCallsThatEndedWhileAway() async throws {
        let first = [
            Self.amiFrame([
                ("Event", "Newchannel"), ("Timestamp", "1700000200.0"), ("CallerIDNum", "02079460018"),
                ("Exten", "600"), ("Uniqueid", "9.1"), ("Linkedid", "9.1"),
            ]),
            Self.amiFrame([
                ("Event", "DialEnd"), ("Timestamp", "1700000205.0"), ("CallerIDNum", "02079460018"),
                ("DestCallerIDNum", "201"), ("DialStatus", "ANSWER"), ("Uniqueid", "9.1"), ("Linkedid", "9.1"),
            ]),
            Self.amiFrame([
                ("Event", "Newchannel"), ("Timestamp", "1700000210.0"), ("CallerIDNum", "07700900123"),
                ("Exten", "600"), ("Uniqueid", "9.7"), ("Linkedid", "9.7"),
            ]),
        ].joined()
        let second = Self.amiFrame([
            ("Event", "Hangup"), ("Timestamp", "1700000230.0"), ("CallerIDNum", "07700900123"), ("Cause", "16"),
            ("Uniqueid", "9.7"), ("Linkedid", "9.7"),
        ])
        let broker = try TansuBroker()
        defer { broker.stop() }
        // Call 9.1 ended during the disconnect (not listed); call 9.7 is still ringing and hangs up afterwards.
        let ami = try ScriptedAMIServer(
            username: "crmhub", secret: "s3cret", scripts: [first, second], activeCalls: [[], ["9.7"]])
        defer { ami.stop() }
        try await KafkaTestClient.createTopics(broker.bootstrap, [Self.interactions, Self.screenPops])
        let processor = try makeProcessor(broker.bootstrap, name: "ami-resync")
        let connector = CTIConnector(
            source: .asteriskAMI(host: "127.0.0.1", port: ami.port, username: "crmhub", secret: "s3cret"),
            processor: processor,
            initialBackoff: .milliseconds(50), logger: KafkaTestClient.logger)
        let run = Task { try await connector.run() }
        defer { run.cancel() }
        let ended = await eventually(timeout: .seconds(20)) { await processor.published.interactions >= 2 }
        #expect(ended, "AMI logins: \(ami.logins), channel lists: \(ami.channelListsSent)")
        #expect(ami.channelListsSent >= 2)
        let interactions = try await KafkaTestClient.collectJSON(
            broker.bootstrap, topic: Self.interactions, count: 3, timeout: .seconds(10))
        let byKey = Dictionary(interactions.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(interactions.count == 2)
        #expect(byKey["call-9.1"]?["outcome"] == "unended")
        #expect(byKey["call-9.1"]?["agentExtension"] == "201")
        #expect(byKey["call-9.7"]?["outcome"] == "missed")
    }

    @Test("a wrong AMI secret is refused by the peer and no call events are processed")
    func amiLoginRefused() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        let ami = try ScriptedAMIServer(username: "crmhub", secret: "s3cret", scripts: try Self.amiScripts())
        defer { ami.stop() }
        let processor = try makeProcessor(broker.bootstrap, name: "ami-refused")
        let connector = CTIConnector(
            source: .asteriskAMI(host: "127.0.0.1", port: ami.port, username: "crmhub", secret: "wrong"),
            processor: processor,
            initialBackoff: .milliseconds(50), logger: KafkaTestClient.logger)
        let run = Task { try await connector.run() }
        defer { run.cancel() }
        let attempted = await eventually(timeout: .seconds(10)) { ami.logins.count >= 2 }
        #expect(attempted)
        #expect(ami.logins.allSatisfy { !$0.accepted })
        #expect(ami.scriptsSent == 0)
        let published = await processor.published
        #expect(published.screenPops == 0)
    }
}
