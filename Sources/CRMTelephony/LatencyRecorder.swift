import Synchronization

/// Keeps the most recent latency samples (a bounded ring) for percentiles in tests, benchmarks and logs; the
/// Prometheus histogram is the `crmhub_cti_screenpop_latency_seconds` timer.
public final class LatencyRecorder: Sendable {
    /// Percentiles over the kept samples.
    public struct Summary: Sendable, CustomStringConvertible {
        public var count: Int
        public var p50: Duration
        public var p99: Duration
        public var max: Duration

        public var description: String {
            "count=\(count) p50=\(Self.ms(p50)) p99=\(Self.ms(p99)) max=\(Self.ms(max))"
        }

        static func ms(_ d: Duration) -> String {
            let value = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
            return String(Int((value * 100).rounded())).withDecimalPoint(2) + "ms"
        }
    }

    private struct Ring {
        var samples: [Duration] = []
        var next = 0
        var total = 0
    }

    private let capacity: Int
    private let ring = Mutex<Ring>(Ring())

    public init(capacity: Int = 100_000) {
        self.capacity = max(capacity, 1)
    }

    public func record(_ latency: Duration) {
        ring.withLock { ring in
            ring.total += 1
            if ring.samples.count < capacity {
                ring.samples.append(latency)
            } else {
                ring.samples[ring.next] = latency
                ring.next = (ring.next + 1) % capacity
            }
        }
    }

    /// Samples recorded since creation (including ones the ring forgot).
    public var count: Int { ring.withLock { $0.total } }

    public func summary() -> Summary {
        let samples = ring.withLock { $0.samples }.sorted()
        guard let last = samples.last else { return Summary(count: 0, p50: .zero, p99: .zero, max: .zero) }
        func percentile(_ p: Double) -> Duration {
            let rank = Int((p * Double(samples.count)).rounded(.up)) - 1
            return samples[min(max(rank, 0), samples.count - 1)]
        }
        return Summary(count: samples.count, p50: percentile(0.5), p99: percentile(0.99), max: last)
    }
}

extension String {
    /// "1234" with 2 → "12.34"; "5" with 2 → "0.05".
    func withDecimalPoint(_ places: Int) -> String {
        let padded = count <= places ? String(repeating: "0", count: places - count + 1) + self : self
        return String(padded.dropLast(places)) + "." + String(padded.suffix(places))
    }
}
