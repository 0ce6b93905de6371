import ServiceLifecycle

/// Runs a service a connector built (a source) and reports it in `/readyz`: expected from construction, running while
/// its `run()` runs, and, once it stopped with an error, that error. Wrapping keeps the connectors unaware of the
/// hub's readiness; a service that knows more about its health can say so through ``HealthReporting``.
public struct MonitoredService: Service {
    /// The wrapped service.
    public let service: any Service
    private let kind: HubState.ComponentKind
    private let name: String
    private let state: HubState

    /// Wraps `service`, declaring it to `state` as a component readiness requires.
    public init(_ service: any Service, kind: HubState.ComponentKind, name: String, state: HubState) {
        self.service = service
        self.kind = kind
        self.name = name
        self.state = state
        state.expect(kind, name: name)
    }

    public func run() async throws {
        let (kind, name, reporter) = (kind, name, service as? any HealthReporting)
        state.register(kind, name: name) {
            HubState.ComponentHealth(kind: kind, name: name, running: true, lastError: reporter?.lastError)
        }
        do {
            try await service.run()
            state.unregister(kind, name: name, error: reporter?.lastError)
        } catch {
            state.unregister(kind, name: name, error: "\(error)")
            throw error
        }
    }
}

/// A service that can tell `/readyz` the last error it saw while it keeps running (a source reconnecting to its peer).
public protocol HealthReporting: Sendable {
    /// The last error seen, nil when the last attempt succeeded.
    var lastError: String? { get }
}
