import CRMDelivery
import CRMKafka
import CRMModel
import CRMViews
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Runs one ``EscalationRule``: keeps the rule's ``TicketView`` of tickets and customers up to date, and on the rule's
/// schedule refers every open ticket that satisfies the rule, once, to the rule's topic.
///
/// - **Nothing is escalated twice.** A ticket is marked escalated only after Kafka acknowledged its escalation; a crash
///   in between sends it again with the same `crm-id` (`escalation/<rule>/<ticket>`), which sinks deduplicate.
/// - **Nothing is missed.** The view's offsets are committed only after the view was written; a failed produce leaves
///   the ticket for the next check.
/// - The first check waits until the view has caught up (joined, then idle for five seconds; or a minute passed), so
///   a fresh view does not escalate a ticket whose later "solved" version it has not read yet.
public final class EscalationService: Service, Sendable {
    /// What one check did.
    public struct CheckSummary: Sendable, Equatable, CustomStringConvertible {
        /// Open tickets not escalated before.
        public var examined = 0
        public var escalated = 0
        /// Tickets whose condition could not be evaluated (logged with the reason).
        public var conditionErrors = 0
        /// Escalations Kafka did not acknowledge (tried again at the next check).
        public var produceFailures = 0

        public var description: String {
            "examined \(examined), escalated \(escalated), condition errors \(conditionErrors), produce failures \(produceFailures)"
        }
    }

    public let rule: EscalationRule
    private let view: TicketView
    private let producer: KafkaProducer
    private let logger: Logger
    private let clock: @Sendable () -> Date
    private let metrics: Metrics
    private var store: TicketViewStore { view.store }
    /// The rule's ticket view (the daemon deletes an erased person's rows from it).
    public var ticketStore: TicketViewStore { view.store }

    /// - Parameters:
    ///   - consumer: client settings for the view; its group is `<groupPrefix>.rule.<name>.<store generation>`.
    ///   - clock: "now" for ages and schedules (tests move it).
    public init(
        rule: EscalationRule, consumer: KafkaConsumerConfiguration, groupPrefix: String, producer: KafkaProducer,
        store: TicketViewStore,
        logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.rule = rule
        var logger = logger
        logger[metadataKey: "rule"] = "\(rule.name)"
        self.view = TicketView(
            name: "rule.\(rule.name)", ticketsTopic: rule.ticketsTopic, customersTopic: rule.customersTopic,
            openStatuses: rule.openStatuses,
            consumer: consumer, groupPrefix: groupPrefix, store: store, logger: logger, clock: clock)
        self.producer = producer
        self.logger = logger
        self.clock = clock
        self.metrics = Metrics(rule: rule.name)
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.view.run() }
            group.addTask {
                await self.view.waitUntilCaughtUp()
                await self.checkLoop()
            }
            try await group.waitForAll()
        }
    }

    // MARK: - Checks

    private func checkLoop() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let delay: Duration
            switch rule.check {
            case .every(let interval):
                delay = interval
            case .schedule(let schedule):
                guard let next = schedule.nextRun(after: clock()) else {
                    logger.warning("the schedule has no next run; no more checks")
                    return
                }
                logger.info("next escalation check \(schedule.localDescription(next))")
                delay = .milliseconds(Int64(max(0, next.timeIntervalSince(clock())) * 1_000))
            }
            let slept: Void? = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            guard slept != nil, !Task.isShuttingDownGracefully else { return }
            do {
                _ = try await check()
            } catch {
                logger.error("escalation check failed; the next check tries again", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Runs one check now: tests every open ticket not escalated yet and escalates those that satisfy the rule.
    public func check() async throws -> CheckSummary {
        let started = ContinuousClock.now
        let now = clock()
        var summary = CheckSummary()
        let candidates = try await store.candidates()
        summary.examined = candidates.count
        var due: [(TicketViewStore.Candidate, JSONValue?)] = []
        for candidate in candidates {
            var customer: JSONValue?
            if let reference = candidate.customerRef { customer = try await store.customer(reference: reference) }
            do {
                let openedAt = rule.openedAt(candidate.ticket, firstSeen: candidate.firstSeen)
                if try rule.isDue(ticket: candidate.ticket, customer: customer, openedAt: openedAt, now: now) {
                    due.append((candidate, customer))
                }
            } catch {
                summary.conditionErrors += 1
                metrics.conditionErrors.increment()
                logger.warning(
                    "condition failed on a ticket; it is tested again at the next check",
                    metadata: ["ticket": "\(candidate.id)", "reason": "\(error.reason)"])
            }
        }
        // Up to 64 escalations wait for Kafka at once; a shutdown stops between batches (the rest waits for the next start).
        var remaining = due[...]
        while !remaining.isEmpty && !Task.isShuttingDownGracefully {
            let batch = remaining.prefix(64)
            remaining = remaining.dropFirst(batch.count)
            let sent = await withTaskGroup(of: Bool.self) { group in
                for (candidate, customer) in batch {
                    group.addTask { await self.escalate(candidate, customer: customer, now: now) }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            summary.escalated += sent
            summary.produceFailures += batch.count - sent
        }
        let counts = try await store.counts()
        metrics.openTickets.record(counts.open)
        metrics.checks.increment()
        let elapsed = ContinuousClock.now - started
        metrics.checkDuration.record(duration: elapsed)
        logger.info(
            "escalation check done",
            metadata: [
                "examined": "\(summary.examined)", "escalated": "\(summary.escalated)",
                "conditionErrors": "\(summary.conditionErrors)",
                "produceFailures": "\(summary.produceFailures)", "openTickets": "\(counts.open)",
                "escalatedTotal": "\(counts.escalated)",
                "duration": "\(elapsed)",
            ])
        return summary
    }

    private func escalate(_ candidate: TicketViewStore.Candidate, customer: JSONValue?, now: Date) async -> Bool {
        let openedAt = rule.openedAt(candidate.ticket, firstSeen: candidate.firstSeen)
        let escalation = rule.escalation(
            ticketID: candidate.id, ticket: candidate.ticket, customer: customer, openedAt: openedAt, now: now)
        let message = ProducerMessage(
            topic: rule.outputTopic, key: Array(candidate.id.utf8), value: escalation.jsonBytes(),
            headers: [
                KafkaHeader(key: EnvelopeHeader.id, text: rule.escalationID(ticketID: candidate.id)),
                KafkaHeader(key: EnvelopeHeader.route, text: "rule:\(rule.name)"),
            ])
        do {
            _ = try await producer.send(message)
        } catch {
            metrics.produceFailures.increment()
            logger.error(
                "escalation not acknowledged by Kafka; the ticket is escalated at the next check",
                metadata: ["ticket": "\(candidate.id)", "topic": "\(rule.outputTopic)", "error": "\(error)"])
            return false
        }
        do {
            try await store.markEscalated(ticketID: candidate.id, at: now)
        } catch {
            logger.error(
                "escalation sent but not recorded; the next check sends it again with the same id",
                metadata: ["ticket": "\(candidate.id)", "error": "\(error)"])
        }
        metrics.escalations.increment()
        logger.notice("ticket escalated", metadata: ["ticket": "\(candidate.id)", "topic": "\(rule.outputTopic)"])
        return true
    }

    private struct Metrics: Sendable {
        let escalations: Counter
        let checks: Counter
        let conditionErrors: Counter
        let produceFailures: Counter
        let openTickets: Gauge
        let checkDuration: Timer

        init(rule: String) {
            let dimensions = [("rule", rule)]
            escalations = Counter(label: "crmhub_rule_escalations_total", dimensions: dimensions)
            checks = Counter(label: "crmhub_rule_checks_total", dimensions: dimensions)
            conditionErrors = Counter(label: "crmhub_rule_condition_errors_total", dimensions: dimensions)
            produceFailures = Counter(label: "crmhub_rule_produce_failures_total", dimensions: dimensions)
            openTickets = Gauge(label: "crmhub_rule_open_tickets", dimensions: dimensions)
            checkDuration = Timer(label: "crmhub_rule_check_duration_seconds", dimensions: dimensions)
        }
    }
}
