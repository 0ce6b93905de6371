import CRMConnector
import CRMDelivery
import CRMKafka
import CRMModel
import Crypto
import Logging
import Metrics

/// Creates or updates one billing customer (Stripe) per golden customer, from canonical Customer messages that a
/// resolving route gave a `goldenId`.
///
/// - **Finding the customer**: the sink's state (``BillingLinkStore``) maps the golden id to the billing customer id;
///   when the state has no entry (first delivery, or the state was lost after a create), the customers with the
///   message's e-mail address are listed and the one whose `metadata[crm_golden_id]` is the golden id is taken
///   (the Stripe search API is eventually consistent and not in every Stripe-compatible API; the list is).
/// - **Create**: `POST /v1/customers` with `Idempotency-Key: crmhub-<golden id>-create`, so a re-delivery racing
///   the state write gets the first customer back instead of a second one. The metadata carries `crm_golden_id` and
///   `crm_id`.
/// - **Update**: only when the digest of name, e-mail, phone, address and metadata differs from what the sink last
///   wrote; the key is derived from the golden id, the two digests and the message id (a re-delivery of one change
///   is applied once, a later change back is applied again). Unchanged: no call at all. A customer deleted in
///   billing (404) is forgotten and created again.
/// - **Echo guard**: customers whose `origin` is `billing` came from the billing system and are not sent back.
/// - **Link**: with a link topic, the first time a golden customer gets its billing customer the sink produces a
///   Customer with `externalIds.stripe` and `origin: billing` (header `crm-source: stripe`) to it — the resolving
///   route's input — so the master data knows `stripe/<customer id>` and billing events mapped with
///   `golden-by-ref` carry the same golden id. It is retried with the message until Kafka acknowledged it.
///
/// Classification: no answer, 401/403 (a key being rotated), 408, 409, 429 and 5xx are transient (429/503 honour
/// `Retry-After`); other 4xx are permanent with the API's error type, code and parameter (never its message, which
/// may quote personal data); messages that are not Customers with a golden id are permanent.
public struct StripeCustomerSinkTarget: SinkTarget {
    private let name: String
    private let client: StripeCustomerClient
    private let store: BillingLinkStore
    private let linkEmitter: SourceEmitter?
    private let linkTopic: String?
    private let logger: Logger
    private let counters: Counters

    /// - Parameters:
    ///   - name: the connector name (the store keeps one set of links per sink).
    ///   - linkTopic: where link Customers go (the resolving route's input); nil sends none.
    public init(
        name: String, client: StripeCustomerClient, store: BillingLinkStore, linkEmitter: SourceEmitter?,
        linkTopic: String?, logger: Logger
    ) {
        self.name = name
        self.client = client
        self.store = store
        self.linkEmitter = linkEmitter
        self.linkTopic = linkTopic
        self.logger = logger
        counters = Counters(connector: name)
    }

    public var description: String { "stripe-customer \(client.target)" }

    /// What happened to one golden customer, for tests and logs.
    public enum UpsertResult: Sendable, Equatable {
        case created(customerId: String)
        case updated(customerId: String)
        case unchanged(customerId: String)
        /// The customer came from billing (`origin: billing`); nothing was sent.
        case echo

        var verb: String {
            switch self {
            case .created: "created"
            case .updated: "updated"
            case .unchanged: "unchanged"
            case .echo: "not sent back"
            }
        }
    }

    public func deliver(_ message: SinkMessage) async -> SinkOutcome {
        do {
            let result = try await upsert(message)
            switch result {
            case .created: counters.created.increment()
            case .updated: counters.updated.increment()
            case .unchanged: counters.unchanged.increment()
            case .echo: counters.echo.increment()
            }
            return .delivered
        } catch {
            return classify(error, messageID: message.id)
        }
    }

    /// Creates, updates or leaves the billing customer of the message's golden customer.
    @discardableResult
    public func upsert(_ message: SinkMessage) async throws(BillingSinkError) -> UpsertResult {
        let value: JSONValue
        do {
            value = try JSONValue.parse(message.value)
        } catch {
            throw .input(BillingInputError("the value is not JSON (\(error.kind.rawValue) at byte \(error.offset))"))
        }
        if BillingCustomer.origin(of: value) == "billing" {
            logger.debug("customer came from billing; not sent back", metadata: ["id": "\(message.id)"])
            return .echo
        }
        let customer: BillingCustomer
        do { customer = try BillingCustomer(customer: value) } catch { throw .input(error) }
        let golden = customer.goldenId
        let known = try await existingLink(for: customer)
        var (saved, result) = try await write(customer, over: known?.link, messageID: message.id)
        switch result {
        case .created(let id), .updated(let id):
            logger.info("billing customer \(result.verb)", metadata: ["golden": "\(golden)", "customer": "\(id)"])
        case .unchanged, .echo:
            logger.debug("billing customer unchanged", metadata: ["golden": "\(golden)", "id": "\(message.id)"])
        }
        if known?.stored != true || result != .unchanged(customerId: saved.customerId) {
            try await state { try await store.save(saved, sink: name, goldenId: golden) }
        }
        if !saved.announced, let linkEmitter, let linkTopic {
            do {
                try await linkEmitter.emit(
                    Self.linkMessage(value, customerId: saved.customerId, golden: golden, topic: linkTopic))
            } catch {
                throw .link(error)
            }
            saved.announced = true
            try await state { try await store.save(saved, sink: name, goldenId: golden) }
        }
        return result
    }

    /// Writes `customer` over the billing customer `link` names (nothing when the digest is unchanged), or creates
    /// it; returns the link to keep.
    private func write(
        _ customer: BillingCustomer, over link: BillingLinkStore.Link?, messageID: String
    ) async throws(BillingSinkError) -> (BillingLinkStore.Link, UpsertResult) {
        let golden = customer.goldenId
        let hash = customer.contentHash
        var createKey = "crmhub-\(golden)-create"
        if var current = link {
            if current.contentHash == hash { return (current, .unchanged(customerId: current.customerId)) }
            let key = "crmhub-\(golden)-update-" + Self.digest("\(current.contentHash)|\(hash)|\(messageID)")
            do {
                _ = try await client.update(
                    id: current.customerId, customer.formFields(clearing: true), idempotencyKey: key)
                current.contentHash = hash
                return (current, .updated(customerId: current.customerId))
            } catch  where error.isMissing {
                logger.warning(
                    "billing customer is gone; creating it again",
                    metadata: ["golden": "\(golden)", "customer": "\(current.customerId)"])
                try await state { try await store.remove(sink: name, goldenId: golden) }
                createKey += "-after-\(current.customerId)"
            } catch {
                throw .api(error)
            }
        }
        let id = try await create(customer, key: createKey)
        return (BillingLinkStore.Link(customerId: id, contentHash: hash, announced: false), .created(customerId: id))
    }

    private func create(_ customer: BillingCustomer, key: String) async throws(BillingSinkError) -> String {
        let created: JSONValue
        do {
            created = try await client.create(customer.formFields(clearing: false), idempotencyKey: key)
        } catch {
            throw .api(error)
        }
        guard let id = created["id"]?.stringValue, !id.isEmpty else {
            throw .api(
                StripeAPIError(
                    .protocolError("the created customer has no id"), operation: "create", target: client.target))
        }
        return id
    }

    /// The link known for the customer's golden id: the sink's state, else a customer it made before (found by
    /// e-mail address and `metadata[crm_golden_id]`), recorded with the digest of what billing holds.
    private func existingLink(
        for customer: BillingCustomer
    ) async throws(BillingSinkError) -> (link: BillingLinkStore.Link, stored: Bool)? {
        let golden = customer.goldenId
        if let link = try await state({ try await store.link(sink: name, goldenId: golden) }) { return (link, true) }
        guard let email = customer.email else { return nil }
        let candidates: [JSONValue]
        do { candidates = try await client.customers(email: email) } catch { throw .api(error) }
        for candidate in candidates {
            guard let remote = BillingCustomer(stripeObject: candidate), remote.goldenId == golden,
                let id = candidate["id"]?.stringValue
            else { continue }
            logger.info(
                "billing customer found by its golden id", metadata: ["golden": "\(golden)", "customer": "\(id)"])
            return (BillingLinkStore.Link(customerId: id, contentHash: remote.contentHash, announced: false), false)
        }
        return nil
    }

    private func state<T>(_ body: () async throws -> T) async throws(BillingSinkError) -> T {
        do { return try await body() } catch { throw .state("\(error)") }
    }

    private func classify(_ error: BillingSinkError, messageID: String) -> SinkOutcome {
        switch error {
        case .input(let problem):
            return .permanent(reason: "message \(messageID): \(problem.description)")
        case .api(let failure) where failure.isTransient:
            if case .http(let status, _) = failure.kind, status == 401 || status == 403 {
                logger.warning(
                    "the billing API refused the key; the message waits for a retry (check the connector's api_key)",
                    metadata: ["id": "\(messageID)"])
            }
            return .transient(reason: failure.description, retryAfter: failure.retryAfter)
        case .api(let failure):
            return .permanent(reason: "message \(messageID): \(failure.description)")
        case .state, .link:
            return .transient(reason: error.description)
        }
    }

    /// The Customer that tells the master data which billing customer a golden customer has.
    static func linkMessage(_ value: JSONValue, customerId: String, golden: String, topic: String) -> ProducerMessage {
        let kept: Set<String> = [
            "id", "kind", "displayName", "givenName", "familyName", "organisationName", "emails", "phones", "addresses",
            "language", "preferredCurrency",
        ]
        var members = (value.objectMembers ?? []).filter { kept.contains($0.0) }
        members.append(("externalIds", .object([("stripe", .string(customerId))])))
        members.append(("origin", "billing"))
        return ProducerMessage(
            topic: topic, key: Array(golden.utf8), value: JSONValue.object(members).jsonBytes(),
            headers: [
                KafkaHeader(key: EnvelopeHeader.id, text: "stripe-link-\(customerId)"),
                KafkaHeader(key: "crm-source", text: "stripe"),
                KafkaHeader(key: EnvelopeHeader.goldenID, text: golden),
            ])
    }

    /// 32 hex digits of SHA-256.
    static func digest(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).prefix(16).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private struct Counters: Sendable {
        let created: Counter
        let updated: Counter
        let unchanged: Counter
        let echo: Counter

        init(connector: String) {
            func counter(_ outcome: String) -> Counter {
                Counter(
                    label: "crmhub_billing_customers_total",
                    dimensions: [("connector", connector), ("outcome", outcome)])
            }
            created = counter("created")
            updated = counter("updated")
            unchanged = counter("unchanged")
            echo = counter("echo")
        }
    }
}

/// Why the billing sink could not deliver a customer.
public enum BillingSinkError: Error, Sendable, CustomStringConvertible {
    /// The message is not a Customer with a golden id (permanent).
    case input(BillingInputError)
    /// The billing API refused or did not answer.
    case api(StripeAPIError)
    /// The sink's state file could not be read or written (transient).
    case state(String)
    /// The link Customer was not acknowledged by Kafka (transient).
    case link(KafkaError)

    public var description: String {
        switch self {
        case .input(let error): error.description
        case .api(let error): error.description
        case .state(let reason): "billing sink state: \(reason)"
        case .link(let error): "the billing link was not produced: \(error)"
        }
    }
}
