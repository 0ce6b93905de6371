// CRMTelephony: CTI intake. Call events from a SIP proxy (Kamailio evapi) or a PBX (Asterisk AMI) are parsed into
// one normalised `CallEvent`, tracked per call, and turned into a screen-pop (at ringing) and one Interaction per
// call (at its end), produced to Kafka.

// The frame and event parsers live in CRMCTIProtocol; users of CRMTelephony see them as before.
@_exported import CRMCTIProtocol
import CRMDelivery
import CRMKafka
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// A CTI connector as a service: connects to its event source, reconnects with backoff, parses every frame into a
/// ``CallEvent`` and hands it to a ``CallEventProcessor``. Unparseable frames are counted
/// (`crmhub_cti_parse_errors_total`) and logged without their content; a framing error on the evapi stream drops the
/// connection (netstrings cannot be resynchronised). `crmhub_cti_connected` (0/1) and `crmhub_cti_disconnects_total`
/// tell whether the feed is up and how often it dropped.
public struct CTIConnector: Service {
    /// Where the call events come from.
    public enum Source: Sendable {
        /// Kamailio's evapi module (`evapi_bind`): netstring- or newline-framed JSON (see `deploy/cti/kamailio.cfg`).
        case kamailioEvapi(host: String, port: Int)
        /// The Asterisk Manager Interface (`manager.conf`): the connector logs in with `Action: Login` and reads
        /// call events (`Events: call`).
        case asteriskAMI(host: String, port: Int, username: String, secret: String)
        /// Kamailio's http_client POSTs each event (the evapi JSON) to `path` on the hub's ingress server, which hands
        /// it to ``CTIConnector/receive(_:arrivedAt:)`` and answers only once the broker decided: Kamailio knows
        /// which events were stored (see `deploy/cti/kamailio.cfg`, `HUB_EVENTS_URL`).
        case kamailioHTTP(path: String)
    }

    public let source: Source
    public let processor: CallEventProcessor
    /// Whether the source is connected now, and how often it connected (readiness, tests).
    public let status = CTIConnectionStatus()
    private let logger: Logger
    private let reconnectBackoff: Backoff

    public init(
        source: Source, processor: CallEventProcessor, initialBackoff: Duration = .milliseconds(100),
        maxBackoff: Duration = .seconds(5), logger: Logger
    ) {
        self.source = source
        self.processor = processor
        reconnectBackoff = Backoff(initial: initialBackoff, maximum: maxBackoff)
        self.logger = logger
    }

    /// The actions sent on every connect: the login, then `CoreShowChannels`, whose list of active channels tells
    /// which tracked calls ended while the hub was not connected.
    static func amiLogin(username: String, secret: String) -> [UInt8] {
        let login = AMIFrame(fields: [
            ("Action", "Login"), ("ActionID", "crmhub-login"), ("Username", username), ("Secret", secret),
            ("Events", "call"),
        ])
        let channels = AMIFrame(fields: [("Action", "CoreShowChannels"), ("ActionID", resyncActionID)])
        return Array((login.wireText + channels.wireText).utf8)
    }

    static let resyncActionID = "crmhub-resync"

    /// The active calls (Linkedids) Asterisk listed in answer to `CoreShowChannels` on this connection.
    struct AMIResync {
        var active: Set<String> = []
        /// False once the action was refused: then nothing is closed.
        var listed = true
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.expireUnendedCalls() }
            group.addTask { await self.readEvents() }
            await group.next()  // the reader ends on shutdown; the sweeper with it
            group.cancelAll()
        }
    }

    private func readEvents() async {
        switch source {
        case .kamailioEvapi(let host, let port):
            let client = CTISocketClient(host: host, port: port, backoff: reconnectBackoff)
            await cancelWhenGracefulShutdown { await runEvapi(client) }
        case .asteriskAMI(let host, let port, let username, let secret):
            let client = CTISocketClient(
                host: host, port: port, greeting: Self.amiLogin(username: username, secret: secret),
                backoff: reconnectBackoff)
            await cancelWhenGracefulShutdown { await runAMI(client) }
        case .kamailioHTTP:
            // Events arrive through the ingress server; this service only lives as long as the hub does.
            status.set(connected: true)
            try? await gracefulShutdown()
            status.set(connected: false)
        }
    }

    /// Handles one event posted by Kamailio (source ``Source/kamailioHTTP(path:)``): parses it, applies it, and
    /// returns once the broker decided on what it produced. Unparseable bodies are counted like garbled evapi frames.
    public func receive(_ body: [UInt8], arrivedAt: ContinuousClock.Instant) async -> CallEventReceipt {
        let event: CallEvent
        do {
            event = try KamailioEventParser.parse(body, receivedAt: Self.epochSeconds())
        } catch {
            parseError(error)
            return .invalid(reason: error.description)
        }
        return await processor.processAcknowledged(event, arrivedAt: arrivedAt)
    }

    /// Once a minute, closes calls whose end event never came, so quiet lines still get their Interactions.
    private func expireUnendedCalls() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(60))
            if Task.isCancelled { return }
            await processor.expireCalls(now: Self.epochSeconds())
        }
    }

    private var name: String { processor.configuration.name }

    private func parseError(_ error: CTIParseError) {
        Counter(
            label: "crmhub_cti_parse_errors_total", dimensions: [("connector", name), ("kind", error.kind.rawValue)]
        ).increment()
        logger.warning("CTI frame not understood", metadata: ["connector": "\(name)", "error": "\(error.description)"])
    }

    private func connected(source: String) {
        status.set(connected: true)
        Gauge(label: "crmhub_cti_connected", dimensions: [("connector", name)]).record(1)
        logger.info(
            "CTI source connected",
            metadata: ["connector": "\(name)", "source": "\(source)", "connections": "\(status.connections)"])
    }

    private func disconnected(_ reason: String, _ retryIn: Duration) {
        let wasConnected = status.isConnected
        status.set(connected: false)
        Gauge(label: "crmhub_cti_connected", dimensions: [("connector", name)]).record(0)
        if wasConnected {
            Counter(label: "crmhub_cti_disconnects_total", dimensions: [("connector", name)]).increment()
        }
        logger.warning(
            "CTI source disconnected",
            metadata: ["connector": "\(name)", "reason": "\(reason)", "retry_in": "\(retryIn)"])
    }

    static func epochSeconds() -> Double { Date().timeIntervalSince1970 }

    func runEvapi(_ client: CTISocketClient) async {
        var framer = EvapiFramer()
        for await event in client.events() {
            switch event {
            case .connected:
                framer = EvapiFramer()
                connected(source: "kamailio-evapi")
            case .disconnected(let reason, let retryIn):
                disconnected(reason, retryIn)
            case .data(let bytes, let arrived):
                framer.append(bytes)
                await drainEvapi(&framer, arrived: arrived, client: client)
            }
        }
    }

    private func drainEvapi(
        _ framer: inout EvapiFramer, arrived: ContinuousClock.Instant, client: CTISocketClient
    ) async {
        let now = Self.epochSeconds()
        while true {
            let payload: [UInt8]
            do {
                guard let next = try framer.next() else { return }
                payload = next
            } catch {
                parseError(error)
                framer = EvapiFramer()
                client.reconnect()
                return
            }
            do {
                let event = try KamailioEventParser.parse(payload, receivedAt: now)
                await processor.process(event, arrivedAt: arrived)
            } catch {
                parseError(error)
            }
        }
    }

    func runAMI(_ client: CTISocketClient) async {
        var framer = AMIFramer()
        var resync = AMIResync()
        for await event in client.events() {
            switch event {
            case .connected:
                framer = AMIFramer()
                resync = AMIResync()
                connected(source: "asterisk-ami")
            case .disconnected(let reason, let retryIn):
                disconnected(reason, retryIn)
            case .data(let bytes, let arrived):
                framer.append(bytes)
                await drainAMI(&framer, resync: &resync, arrived: arrived)
            }
        }
    }

    /// Handles the answer to `CoreShowChannels`: collects the active calls, and at the end of the list closes the
    /// tracked calls that are gone. A refused action closes nothing.
    private func resynchronise(_ frame: AMIFrame, _ resync: inout AMIResync) async {
        if let response = frame["Response"] {
            resync.listed = response.lowercased() == "success"
            if !resync.listed {
                logger.warning(
                    "AMI CoreShowChannels refused; calls that ended while disconnected close after max_call_seconds",
                    metadata: ["connector": "\(name)", "message": "\(frame["Message"] ?? "")"])
            }
            return
        }
        switch frame.event?.lowercased() {
        case "coreshowchannel":
            if let call = frame["Linkedid"] ?? frame["Uniqueid"] { resync.active.insert(call) }
        case "coreshowchannelscomplete":
            if resync.listed { await processor.resync(source: "asterisk", activeCalls: resync.active) }
        default:
            break
        }
    }

    private func drainAMI(_ framer: inout AMIFramer, resync: inout AMIResync, arrived: ContinuousClock.Instant) async {
        let now = Self.epochSeconds()
        while true {
            let frame: AMIFrame
            do {
                guard let next = try framer.next() else { return }
                frame = next
            } catch {
                parseError(error)
                continue
            }
            if frame["ActionID"] == "crmhub-login", let response = frame["Response"] {
                loginResponse(response, message: frame["Message"])
                continue
            }
            if frame["ActionID"] == Self.resyncActionID {
                await resynchronise(frame, &resync)
                continue
            }
            do {
                guard let event = try AMIEventTranslator.callEvent(from: frame, receivedAt: now) else { continue }
                await processor.process(event, arrivedAt: arrived)
            } catch {
                parseError(error)
            }
        }
    }

    private func loginResponse(_ response: String, message: String?) {
        if response.lowercased() == "success" {
            logger.info("AMI login accepted", metadata: ["connector": "\(name)"])
        } else {
            logger.error("AMI login refused", metadata: ["connector": "\(name)", "message": "\(message ?? "")"])
        }
    }
}

/// A connector's link to its event source: up or down, and how many times it connected.
public final class CTIConnectionStatus: Sendable {
    private let state = Mutex<(connected: Bool, connections: Int)>((false, 0))

    public init() {}

    public var isConnected: Bool { state.withLock { $0.connected } }
    /// Successful connections so far (more than one: the connector reconnected).
    public var connections: Int { state.withLock { $0.connections } }

    func set(connected: Bool) {
        state.withLock { state in
            if connected { state.connections += 1 }
            state.connected = connected
        }
    }
}
