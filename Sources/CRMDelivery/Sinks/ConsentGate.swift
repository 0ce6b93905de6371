import CRMKafka
import CRMMasterData
import CRMYAML

/// The consent check of a sink that serves a purpose (`purpose: marketing` in its connector file): before each
/// delivery the message's customer is resolved (``CustomerReference``) and the master data asked what holds now
/// for the purpose on the sink's channel. Only an explicit grant lets the message through; unknown consent, a
/// revocation or a customer the master data cannot find suppress it. Consent is read from the store at every
/// delivery, so a revocation counts for every message delivered after it.
public struct ConsentGate: Sendable {
    /// The purpose the sink serves (`marketing`, `newsletter`, …).
    public let purpose: String
    /// The channel the sink reaches the customer on (`email` for the SMTP sink); `any` needs consent for all.
    public let channel: ConsentChannel
    /// The master data that finds the customer and holds the consent statements.
    public let resolver: MasterDataResolver

    /// A gate for `purpose` (kept in lower case) on `channel`.
    public init(purpose: String, channel: ConsentChannel, resolver: MasterDataResolver) {
        self.purpose = purpose.lowercased()
        self.channel = channel
        self.resolver = resolver
    }

    /// What to do with one message.
    public enum Verdict: Sendable, Equatable {
        case deliver
        /// Not delivered: `reason` is `unknown`, `revoked` or `no-customer` (never personal data).
        case suppress(reason: String)
        /// Consent could not be read (the store failed): retried like a transient delivery failure.
        case undecidable(reason: String)
    }

    /// The verdict for a message. When the reference matches several golden customers, each must have granted.
    public func check(headers: [KafkaHeader], value: [UInt8]) async -> Verdict {
        let reference = CustomerReference(headers: headers, value: value)
        let ids = await reference.resolve(with: resolver)
        guard !ids.isEmpty else { return .suppress(reason: "no-customer") }
        for id in ids {
            let decision: ConsentDecision
            do {
                decision = try await resolver.consent(goldenId: id, purpose: purpose, channel: channel)
            } catch {
                return .undecidable(reason: "consent could not be read: \(error)")
            }
            if !decision.allows { return .suppress(reason: decision.label) }
        }
        return .deliver
    }
}

extension ConsentChannel {
    /// Reads a sink's `consent_channel:` (`email`, `sms`, `phone` or `any`).
    init(_ value: YAMLValue) throws(YAMLError) {
        self = ConsentChannel(rawValue: try value.oneOf(ConsentChannel.allCases.map(\.rawValue)))!
    }
}
