import Testing

@testable import CRMDelivery

@Suite(.timeLimit(.minutes(1))) struct InFlightLimiterTests {
    /// Waits until `limiter` has a suspended `acquire`.
    private func untilWaiting(_ limiter: InFlightLimiter) async {
        while !limiter.hasWaiter { await Task.yield() }
    }

    @Test func freeSlotsAreTakenWithoutWaiting() async {
        let limiter = InFlightLimiter(limit: 4)
        for _ in 0..<4 { await limiter.acquire() }
        #expect(limiter.inFlight == 4)
        #expect(!limiter.hasWaiter)
    }

    @Test func aWaitingAcquireResumesOnceAnEighthOfTheSlotsAreFree() async {
        let limiter = InFlightLimiter(limit: 16)
        #expect(limiter.resumeAt == 14)
        for _ in 0..<16 { await limiter.acquire() }
        let waiting = Task { await limiter.acquire() }
        await untilWaiting(limiter)

        limiter.release()
        // One slot free: the waiter keeps waiting and the slot stays free.
        #expect(limiter.hasWaiter)
        #expect(limiter.inFlight == 15)

        limiter.release()
        // Two free (an eighth of 16): the waiter is handed one of them.
        #expect(!limiter.hasWaiter)
        #expect(limiter.inFlight == 15)
        await waiting.value
        #expect(limiter.inFlight == 15)
    }

    @Test(arguments: [1, 2, 15])
    func belowALimitOfSixteenAWaiterResumesAtTheFirstFreeSlot(limit: Int) async {
        let limiter = InFlightLimiter(limit: limit)
        #expect(limiter.resumeAt == limit - 1)
        for _ in 0..<limit { await limiter.acquire() }
        let waiting = Task { await limiter.acquire() }
        await untilWaiting(limiter)
        limiter.release()
        await waiting.value
        #expect(limiter.inFlight == limit)
    }

    @Test func anIdleWaitEndsWhenTheLastSlotIsReleased() async {
        let limiter = InFlightLimiter(limit: 8)
        for _ in 0..<3 { await limiter.acquire() }
        let idle = Task { await limiter.waitUntilIdle(timeout: .seconds(30)) }
        for _ in 0..<3 { limiter.release() }
        #expect(await idle.value)
        #expect(limiter.inFlight == 0)
    }

    @Test func anIdleWaitTimesOutWhileSlotsAreInUse() async {
        let limiter = InFlightLimiter(limit: 8)
        await limiter.acquire()
        #expect(await limiter.waitUntilIdle(timeout: .milliseconds(50)) == false)
        #expect(limiter.inFlight == 1)
    }
}
