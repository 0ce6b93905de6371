import Foundation
import Synchronization

/// What `/readyz` reports: whether the hub is connected to Kafka and every route has joined its group.
public final class HubState: Sendable {
    /// Health of one route.
    public struct RouteHealth: Sendable, Codable {
        public var name: String
        public var running: Bool
        public var joinedGroup: Bool
        public var assignedPartitions: Int
        public var inFlight: Int
        public var lastError: String?

        public init(
            name: String, running: Bool, joinedGroup: Bool, assignedPartitions: Int, inFlight: Int, lastError: String?
        ) {
            self.name = name
            self.running = running
            self.joinedGroup = joinedGroup
            self.assignedPartitions = assignedPartitions
            self.inFlight = inFlight
            self.lastError = lastError
        }
    }

    /// The readiness answer, encodable as the `/readyz` body.
    public struct Readiness: Sendable, Codable {
        public var ready: Bool
        public var kafkaConnected: Bool
        public var kafkaError: String?
        public var routes: [RouteHealth]
    }

    private let routeProbes = Mutex<[String: @Sendable () -> RouteHealth]>([:])
    private let kafkaProbe = Mutex<(@Sendable () -> String?)?>(nil)
    public let startedAt = Date()

    public init() {}

    /// Registers how to read a route's health (while it runs).
    public func register(route name: String, probe: @escaping @Sendable () -> RouteHealth) {
        routeProbes.withLock { $0[name] = probe }
    }

    /// Removes a route's probe (the route stopped).
    public func unregister(route name: String) {
        _ = routeProbes.withLock { $0.removeValue(forKey: name) }
    }

    /// Registers how to read the producer's last connection error (nil when healthy).
    public func registerKafka(probe: @escaping @Sendable () -> String?) {
        kafkaProbe.withLock { $0 = probe }
    }

    /// Evaluates readiness for `expectedRoutes`.
    public func readiness(expectedRoutes: [String]) -> Readiness {
        let probes = routeProbes.withLock { $0 }
        let kafkaError = kafkaProbe.withLock { $0 }?() ?? nil
        let routes = expectedRoutes.map { name in
            probes[name]?()
                ?? RouteHealth(
                    name: name, running: false, joinedGroup: false, assignedPartitions: 0, inFlight: 0, lastError: nil)
        }
        let connected = kafkaProbe.withLock { $0 } != nil && kafkaError == nil
        let ready = connected && routes.allSatisfy { $0.running && $0.joinedGroup }
        return Readiness(ready: ready, kafkaConnected: connected, kafkaError: kafkaError, routes: routes)
    }
}
