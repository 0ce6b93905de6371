import CRMDelivery
import Foundation
import Synchronization
import Testing

@Suite struct ConcurrentMapTests {
    @Test(arguments: [0, 1, 31, 63, 64, 65, 97, 1_000, 4_099])
    func resultsComeInTheOrderOfTheElements(count: Int) async {
        let elements = Array(0..<count)
        let squares = await elements.concurrentMap { $0 * $0 }
        #expect(squares == elements.map { $0 * $0 })
    }

    @Test func eachElementIsTransformedExactlyOnce() async {
        let calls = Mutex([Int: Int]())
        let elements = Array(0..<2_000)
        _ = await elements.concurrentMap(minimumPerTask: 7) { element in
            calls.withLock { $0[element, default: 0] += 1 }
        }
        let counts = calls.withLock { $0 }
        #expect(counts.count == 2_000)
        #expect(counts.values.allSatisfy { $0 == 1 })
    }

    /// Two parts that each wait for the other finish only if they run at the same time.
    @Test(.enabled(if: ProcessInfo.processInfo.activeProcessorCount > 1), .timeLimit(.minutes(1)))
    func partsRunAtTheSameTimeWhenThereAreCPUs() async {
        let arrived = Atomic<Int>(0)
        let results = await [0, 1].concurrentMap(minimumPerTask: 1) { element in
            arrived.add(1, ordering: .relaxed)
            let deadline = ContinuousClock.now + .seconds(10)
            while arrived.load(ordering: .relaxed) < 2, ContinuousClock.now < deadline { await Task.yield() }
            return arrived.load(ordering: .relaxed)
        }
        #expect(results == [2, 2])
    }
}
