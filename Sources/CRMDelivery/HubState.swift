import Foundation
import Synchronization

/// What `/readyz` reports: whether the hub is connected to Kafka and every component — route, sink (each of its
/// consumers) and source — runs (and, when it consumes, has joined its consumer group).
///
/// Components register a probe while they run; the ones the hub must have are declared with ``expect(_:name:)``
/// when they are built, so a component that stopped (or never started) shows as not running instead of vanishing.
public final class HubState: Sendable {
    /// What kind of part of the hub a component is.
    public enum ComponentKind: String, Sendable, Codable, CaseIterable {
        /// A route: consumes a topic and produces to others.
        case route
        /// One consumer of a sink (its main topic or a retry tier).
        case sink
        /// A service a connector runs (a mailbox poller, an ERP poller, a CTI socket client...).
        case source
    }

    /// Health of one component.
    public struct ComponentHealth: Sendable, Codable {
        public var kind: ComponentKind
        public var name: String
        /// True while the component's service runs.
        public var running: Bool
        /// For consumers: whether the consumer has joined its group (has an assignment). Nil for non-consumers.
        public var joinedGroup: Bool?
        /// For consumers: the partitions assigned now.
        public var assignedPartitions: Int?
        /// Messages being worked on now, when the component counts them.
        public var inFlight: Int?
        /// The last error the component saw (a Kafka client error, the error a service stopped with).
        public var lastError: String?
        /// Why the component takes no new work now although it runs (its state file cannot be written: the disk is
        /// full); nil while it works.
        public var stalled: String?

        public init(
            kind: ComponentKind = .route, name: String, running: Bool, joinedGroup: Bool? = nil,
            assignedPartitions: Int? = nil, inFlight: Int? = nil, lastError: String? = nil, stalled: String? = nil
        ) {
            self.stalled = stalled
            self.kind = kind
            self.name = name
            self.running = running
            self.joinedGroup = joinedGroup
            self.assignedPartitions = assignedPartitions
            self.inFlight = inFlight
            self.lastError = lastError
        }

        /// Running, not stalled and, for a consumer, joined its group.
        public var isReady: Bool { running && joinedGroup != false && stalled == nil }
    }

    /// Health of one route (kept for callers that only know routes).
    public typealias RouteHealth = ComponentHealth

    /// The readiness answer, encodable as the `/readyz` body.
    public struct Readiness: Sendable, Codable {
        public var ready: Bool
        public var kafkaConnected: Bool
        public var kafkaError: String?
        /// Every expected or running component, sorted by kind and name.
        public var components: [ComponentHealth]
        /// The route components alone (the body's original field).
        public var routes: [ComponentHealth]
    }

    private struct Key: Hashable, Sendable {
        var kind: ComponentKind
        var name: String
    }

    private let probes = Mutex<[Key: @Sendable () -> ComponentHealth]>([:])
    private let expected = Mutex<Set<Key>>([])
    private let lastErrors = Mutex<[Key: String]>([:])
    private let kafkaProbe = Mutex<(@Sendable () -> String?)?>(nil)
    public let startedAt = Date()

    public init() {}

    /// Declares a component readiness requires; until it registers it reports as not running.
    public func expect(_ kind: ComponentKind, name: String) {
        _ = expected.withLock { $0.insert(Key(kind: kind, name: name)) }
    }

    /// Registers how to read a component's health while it runs.
    public func register(
        _ kind: ComponentKind, name: String, probe: @escaping @Sendable () -> ComponentHealth
    ) {
        probes.withLock { $0[Key(kind: kind, name: name)] = probe }
    }

    /// Removes a component's probe (it stopped); `error` is kept and shown as its last error.
    public func unregister(_ kind: ComponentKind, name: String, error: String? = nil) {
        let key = Key(kind: kind, name: name)
        _ = probes.withLock { $0.removeValue(forKey: key) }
        if let error { lastErrors.withLock { $0[key] = error } }
    }

    /// Registers how to read a route's health (while it runs).
    public func register(route name: String, probe: @escaping @Sendable () -> RouteHealth) {
        register(.route, name: name, probe: probe)
    }

    /// Removes a route's probe (the route stopped).
    public func unregister(route name: String) {
        unregister(.route, name: name)
    }

    /// Registers how to read the producer's last connection error (nil when healthy).
    public func registerKafka(probe: @escaping @Sendable () -> String?) {
        kafkaProbe.withLock { $0 = probe }
    }

    /// Evaluates readiness: Kafka connected, and every component — `expectedRoutes`, the ones declared with
    /// ``expect(_:name:)`` and the ones registered now — running and, when it consumes, joined its group.
    public func readiness(expectedRoutes: [String] = []) -> Readiness {
        let probes = probes.withLock { $0 }
        let errors = lastErrors.withLock { $0 }
        let kafkaError = kafkaProbe.withLock { $0 }?() ?? nil
        let keys = expected.withLock { $0 }.union(expectedRoutes.map { Key(kind: .route, name: $0) })
            .union(probes.keys)
        let components = keys.sorted { ($0.kind.rawValue, $0.name) < ($1.kind.rawValue, $1.name) }.map { key in
            probes[key]?()
                ?? ComponentHealth(kind: key.kind, name: key.name, running: false, lastError: errors[key])
        }
        let connected = kafkaProbe.withLock { $0 } != nil && kafkaError == nil
        let ready = connected && components.allSatisfy(\.isReady)
        return Readiness(
            ready: ready, kafkaConnected: connected, kafkaError: kafkaError, components: components,
            routes: components.filter { $0.kind == .route })
    }
}
