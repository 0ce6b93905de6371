import CRMMasterData
import Logging
import ServiceLifecycle

/// Follows the master-data change feed while the daemon runs, so merges, unmerges and erasures made by the CLI, the
/// admin API or another instance reach this instance's identity graph (and the golden-record topic) even when no
/// customer message arrives. A failed poll is logged and tried again at the next interval.
public struct MasterDataFollower: Service {
    public let resolver: MasterDataResolver
    public let interval: Duration
    private let logger: Logger

    public init(resolver: MasterDataResolver, interval: Duration = .seconds(1), logger: Logger) {
        self.resolver = resolver
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let taken = try await resolver.synchronize()
                    if taken > 0 { logger.info("master-data changes taken in", metadata: ["changes": "\(taken)"]) }
                } catch {
                    logger.warning("master-data change feed not read; trying again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
