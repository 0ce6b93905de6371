/// One finished call, as the tracker saw it: the input for its Interaction.
public struct CallRecord: Sendable, Equatable {
    /// How the call ended.
    public enum Outcome: String, Sendable {
        /// Answered, then cleared.
        case answered
        /// Never answered: the caller gave up (487 / hangup while ringing) or nobody picked up (408, 480).
        case missed
        /// Refused or failed (busy 486, declined 603, network errors, ...).
        case failed
        /// No end event arrived within `maxCallSeconds` of the call's last event (the hub was disconnected from the
        /// source, or the source lost it); `endedAt` is that last event's time.
        case unended
    }

    public var callID: String
    public var source: String
    /// The calling number as signalled.
    public var from: String
    /// The number first dialled (the ringing event's callee).
    public var to: String
    /// Who took the call (the answered event's callee), else the last agent it rang.
    public var agent: String
    public var startedAt: Double
    public var answeredAt: Double?
    public var endedAt: Double
    public var outcome: Outcome
    /// The final SIP status of a failed or missed call.
    public var sipCode: Int?
    /// Talk time (answered to end), whole seconds, rounded.
    public var durationSeconds: Int
}

/// Follows each call through its events and says what to publish: a screen-pop for every new agent a call rings
/// (usually one), and one ``CallRecord`` when it ends. Late or repeated events of a finished call are ignored (the
/// last few thousand call ids are remembered), so sources that signal the end twice (Asterisk DialEnd + Hangup)
/// produce one Interaction. A call without an end event is closed `maxCallSeconds` after its last event with outcome
/// `unended`, so it still gets its Interaction.
public actor CallTracker {
    public enum Action: Sendable, Equatable {
        /// Pop the caller's details on `event.to`'s screen.
        case screenPop(CallEvent)
        /// The call ended: publish its Interaction.
        case interaction(CallRecord)
    }

    struct OpenCall {
        var source: String
        var from: String
        var to: String
        var agent: String
        var startedAt: Double
        var answeredAt: Double?
        var popped: Set<String>
        var lastSeen: Double
    }

    private var open: [String: OpenCall] = [:]
    private var ended: Set<String> = []
    private var endedOrder: [String] = []
    private var endedNext = 0
    private var handled = 0
    private let recentlyEndedCapacity: Int
    private let maxCallSeconds: Double

    /// - Parameters:
    ///   - maxCallSeconds: a call without events for this long is closed as `unended`. Default 6 hours.
    ///   - recentlyEndedCapacity: how many ended call ids are remembered to ignore late events. Default 4096.
    public init(maxCallSeconds: Double = 6 * 3600, recentlyEndedCapacity: Int = 4096) {
        self.maxCallSeconds = maxCallSeconds
        self.recentlyEndedCapacity = max(recentlyEndedCapacity, 1)
    }

    /// Calls currently between ringing and their end.
    public var openCallCount: Int { open.count }

    /// What to publish for `event` (in order).
    public func handle(_ event: CallEvent) -> [Action] {
        handled += 1
        let expired = handled % 1024 == 0 ? expire(now: event.timestamp) : []
        if ended.contains(event.callID) { return expired }
        switch event.kind {
        case .ringing: return expired + ringing(event)
        case .answered:
            answered(event)
            return expired
        case .hangup, .failed:
            return expired + [.interaction(finish(event))]
        }
    }

    /// Closes the calls whose last event is more than `maxCallSeconds` before `now` (epoch seconds), as `unended`.
    public func expire(now: Double) -> [Action] {
        close(open.filter { $0.value.lastSeen < now - maxCallSeconds })
    }

    /// Closes, as `unended`, the open calls of `source` that the source no longer lists as active (Asterisk's
    /// `CoreShowChannels` after a reconnect): they ended while the hub was not listening.
    public func closeCalls(of source: String, notIn active: Set<String>) -> [Action] {
        close(open.filter { $0.value.source == source && !active.contains($0.key) })
    }

    private func close(_ calls: [String: OpenCall]) -> [Action] {
        calls.sorted { $0.value.lastSeen < $1.value.lastSeen }.map { callID, call in
            open.removeValue(forKey: callID)
            remember(callID)
            let talk = call.answeredAt.map { Int((call.lastSeen - $0).rounded()) } ?? 0
            return .interaction(
                CallRecord(
                    callID: callID, source: call.source, from: call.from, to: call.to, agent: call.agent,
                    startedAt: call.startedAt,
                    answeredAt: call.answeredAt, endedAt: call.lastSeen, outcome: .unended, sipCode: nil,
                    durationSeconds: max(0, talk)))
        }
    }

    private func ringing(_ event: CallEvent) -> [Action] {
        guard var call = open[event.callID] else {
            open[event.callID] = OpenCall(
                source: event.source, from: event.from, to: event.to, agent: event.to, startedAt: event.timestamp,
                answeredAt: nil, popped: [event.to], lastSeen: event.timestamp)
            return [.screenPop(event)]
        }
        call.lastSeen = event.timestamp
        var actions: [Action] = []
        if !event.to.isEmpty && !call.popped.contains(event.to) && call.answeredAt == nil {
            call.popped.insert(event.to)
            call.agent = event.to
            var pop = event
            if pop.from.isEmpty { pop.from = call.from }
            actions.append(.screenPop(pop))
        }
        open[event.callID] = call
        return actions
    }

    private func answered(_ event: CallEvent) {
        var call =
            open[event.callID]
            ?? OpenCall(
                source: event.source, from: event.from, to: event.to, agent: event.to, startedAt: event.timestamp,
                answeredAt: nil, popped: [], lastSeen: event.timestamp)
        call.lastSeen = event.timestamp
        if call.answeredAt == nil {
            call.answeredAt = event.timestamp
            if !event.to.isEmpty { call.agent = event.to }
        }
        open[event.callID] = call
    }

    private func finish(_ event: CallEvent) -> CallRecord {
        let call =
            open.removeValue(forKey: event.callID)
            ?? OpenCall(
                source: event.source, from: event.from, to: event.to, agent: event.to, startedAt: event.timestamp,
                answeredAt: nil, popped: [], lastSeen: event.timestamp)
        remember(event.callID)
        let outcome: CallRecord.Outcome
        if call.answeredAt != nil {
            outcome = .answered
        } else if event.kind == .hangup {
            outcome = .missed
        } else {
            outcome = [408, 480, 487].contains(event.sipCode ?? 0) ? .missed : .failed
        }
        let duration: Int
        if let answeredAt = call.answeredAt {
            duration = max(0, Int((event.timestamp - answeredAt).rounded()))
        } else {
            duration = 0
        }
        return CallRecord(
            callID: event.callID, source: call.source, from: call.from.isEmpty ? event.from : call.from, to: call.to,
            agent: call.agent, startedAt: call.startedAt, answeredAt: call.answeredAt,
            endedAt: max(event.timestamp, call.startedAt),
            outcome: outcome, sipCode: outcome == .answered ? nil : event.sipCode,
            durationSeconds: event.durationSeconds ?? duration)
    }

    private func remember(_ callID: String) {
        if endedOrder.count < recentlyEndedCapacity {
            endedOrder.append(callID)
        } else {
            ended.remove(endedOrder[endedNext])
            endedOrder[endedNext] = callID
            endedNext = (endedNext + 1) % recentlyEndedCapacity
        }
        ended.insert(callID)
    }
}
