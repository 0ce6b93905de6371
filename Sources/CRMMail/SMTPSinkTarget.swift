import CRMDelivery
import CRMRedaction
import CRMTransport
import CRMYAML
import Foundation
import Logging
import Mustache

/// Sends each message as an e-mail rendered from a ``MailTemplate`` with the message's JSON as the context.
///
/// The hub's message id becomes the `Message-ID` (`<id@domain>`), so every attempt carries the same id.
/// Classification per recipient (from each `RCPT TO` reply and the reply to the data): all accepted → delivered;
/// any 4xx or a dropped connection → transient (recipients that already accepted are remembered and not sent the
/// message again on the retry); otherwise any 5xx → permanent (dead-letter topic), even if other recipients got it.
/// A message that is not a JSON object, or renders no valid recipient, is permanent.
public struct SMTPSinkTarget: SinkTarget {
    public struct Settings: Sendable {
        public var from: MailAddress
        /// Mustache template rendering the recipients, comma-separated (`{{customer.email}}`); `email:` and
        /// `mailto:` prefixes are dropped, so a Ticket's `customerRef` works as is.
        public var to: String
        public var cc: String?
        /// The right-hand side of generated Message-IDs (`hub.example.com`).
        public var messageIDDomain: String
        /// Mustache template rendering the Message-ID this mail answers (optional; brackets optional).
        public var inReplyTo: String?
        /// Further header fields, values rendered as Mustache templates (e.g. `Auto-Submitted: auto-replied`).
        public var headers: [(name: String, value: String)]
        public var template: MailTemplate

        public init(
            from: MailAddress, to: String, cc: String? = nil, messageIDDomain: String, inReplyTo: String? = nil,
            headers: [(name: String, value: String)] = [], template: MailTemplate
        ) {
            self.from = from
            self.to = to
            self.cc = cc
            self.messageIDDomain = messageIDDomain
            self.inReplyTo = inReplyTo
            self.headers = headers
            self.template = template
        }
    }

    public let settings: Settings
    private let client: SMTPClient
    private let addressTemplates: AddressTemplates
    private let ledger = RecipientLedger()
    private let logger: Logger

    public init(
        settings: Settings, client: SMTPClient, logger: Logger = Logger(label: "crmhub.smtp-sink")
    ) throws(MailTemplateError) {
        self.settings = settings
        self.client = client
        self.logger = logger
        addressTemplates = try AddressTemplates(settings: settings)
    }

    public var description: String { "SMTP \(client.target) template \(settings.template.name)" }

    public func deliver(_ message: SinkMessage) async -> SinkOutcome {
        guard let context = try? JSONSerialization.jsonObject(with: Data(message.value)), context is [String: Any]
        else {
            return .permanent(
                reason: "the message is not a JSON object; cannot render template \(settings.template.name)")
        }
        let mail: MailMessage
        switch compose(message, context: context) {
        case .mail(let composed): mail = composed
        case .refused(let reason): return .permanent(reason: reason)
        }
        let remaining = await ledger.remaining(id: message.id, of: mail.recipients)
        guard !remaining.isEmpty else {
            await ledger.forget(id: message.id)
            return .delivered
        }
        let result = await client.send(mail, recipients: remaining)
        return await classify(result, id: message.id)
    }

    /// A composed message, or why there is none.
    enum Composition {
        case mail(MailMessage)
        case refused(String)
    }

    /// Renders the template and the address fields into a message.
    func compose(_ message: SinkMessage, context: Any) -> Composition {
        let rendered = settings.template.render(context)
        let to = Self.addresses(addressTemplates.to.render(context))
        let cc = addressTemplates.cc.map { Self.addresses($0.render(context)) } ?? []
        guard !(to + cc).isEmpty else {
            return .refused("template \(settings.template.name): the recipient template rendered no e-mail address")
        }
        let inReplyTo = addressTemplates.inReplyTo.map {
            $0.render(context).trimmingCharacters(in: CharacterSet(charactersIn: "<> \n"))
        }
        .flatMap { $0.contains("@") ? $0 : nil }
        let headers = addressTemplates.headers.map { (name: $0.name, value: $0.template.render(context)) }
        return .mail(
            MailMessage(
                from: settings.from, to: to, cc: cc, subject: rendered.subject, text: rendered.text,
                html: rendered.html,
                messageID: MailMessage.messageID(for: message.id, domain: settings.messageIDDomain),
                inReplyTo: inReplyTo,
                references: inReplyTo.map { [$0] } ?? [], extraHeaders: headers))
    }

    private func classify(_ result: SMTPSendResult, id: String) async -> SinkOutcome {
        await ledger.accept(id: id, recipients: result.delivered.map(\.recipient))
        if !result.transient.isEmpty {
            let reason = Self.reason(result.transient, transport: result.transportError)
            logger.warning("mail not accepted yet; will retry", metadata: ["id": "\(id)", "reason": "\(reason)"])
            return .transient(reason: reason)
        }
        await ledger.forget(id: id)
        if !result.permanent.isEmpty {
            let reason = Self.reason(result.permanent, transport: result.transportError)
            logger.error(
                "mail refused for good",
                metadata: ["id": "\(id)", "reason": "\(reason)", "delivered": "\(result.delivered.count)"])
            return .permanent(reason: reason)
        }
        return .delivered
    }

    /// `550 for <email:3f9a12bc45de> (5.1.1 ... User unknown)`: codes and replies, addresses and other personal data
    /// replaced by their keyed fingerprints.
    static func reason(_ failures: [SMTPRecipientResult], transport: TransportError?) -> String {
        let parts = failures.prefix(5).map { failure in
            let reply = RedactionPolicy.installed.redact(
                failure.reply.replacingOccurrences(of: failure.recipient, with: redact(failure.recipient)))
            return "\(failure.code) for \(redact(failure.recipient)) (\(reply.prefix(160)))"
        }
        let more = failures.count > 5 ? " and \(failures.count - 5) more" : ""
        return "SMTP " + parts.joined(separator: "; ") + more + (transport.map { " [\($0.description)]" } ?? "")
    }

    /// `jane@example.com` → `<email:3f9a12bc45de>`, the installed policy's fingerprint (for logs and dead letters).
    static func redact(_ address: String) -> String {
        RedactionPolicy.installed.fingerprint(address, kind: "email")
    }

    /// Comma/semicolon/newline-separated addresses; `email:`/`mailto:` prefixes dropped; entries without `@` skipped.
    static func addresses(_ text: String) -> [MailAddress] {
        text.split(whereSeparator: { $0 == "," || $0 == ";" || $0.isNewline }).compactMap { item in
            var entry = item.trimmingCharacters(in: .whitespaces)
            for prefix in ["email:", "mailto:"] where entry.lowercased().hasPrefix(prefix) {
                entry = String(entry.dropFirst(prefix.count))
            }
            return MailAddress(parsing: entry)
        }
    }
}

/// The compiled address and header templates of a sink.
struct AddressTemplates: Sendable {
    let to: MustacheTemplate
    let cc: MustacheTemplate?
    let inReplyTo: MustacheTemplate?
    let headers: [(name: String, template: MustacheTemplate)]

    init(settings: SMTPSinkTarget.Settings) throws(MailTemplateError) {
        func compile(_ source: String, _ part: String) throws(MailTemplateError) -> MustacheTemplate {
            do {
                return try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + source)
            } catch {
                throw MailTemplateError(template: settings.template.name, part: part, reason: "\(error)")
            }
        }
        to = try compile(settings.to, "to")
        cc = try settings.cc.map { source throws(MailTemplateError) in try compile(source, "cc") }
        inReplyTo = try settings.inReplyTo.map { source throws(MailTemplateError) in try compile(source, "in_reply_to")
        }
        var headers: [(name: String, template: MustacheTemplate)] = []
        for header in settings.headers {
            headers.append((header.name, try compile(header.value, "header \(header.name)")))
        }
        self.headers = headers
    }
}

/// Recipients that already accepted a message, per message id, so a retry after a partial failure only goes to the
/// others. Bounded (oldest entries dropped); kept in memory — after a restart a retry may reach them again, with
/// the same Message-ID.
actor RecipientLedger {
    private var accepted: [String: Set<String>] = [:]
    private var order: [String] = []
    private let capacity = 10_000

    func remaining(id: String, of recipients: [String]) -> [String] {
        guard let done = accepted[id] else { return recipients }
        return recipients.filter { !done.contains($0.lowercased()) }
    }

    func accept(id: String, recipients: [String]) {
        guard !recipients.isEmpty else { return }
        if accepted[id] == nil {
            order.append(id)
            if order.count > capacity { accepted[order.removeFirst()] = nil }
        }
        accepted[id, default: []].formUnion(recipients.map { $0.lowercased() })
    }

    func forget(id: String) {
        accepted[id] = nil
    }
}

extension SMTPSinkTarget {
    /// A target for an `smtp-sink` connector: secrets resolved, templates read from the templates folder.
    public init(configuration: SMTPSinkConnector.Settings, logger: Logger) throws {
        let template = try MailTemplate(named: configuration.template, directory: configuration.templatesDirectory)
        guard let from = MailAddress(parsing: configuration.from) else {
            throw MailTemplateError(
                template: configuration.template, part: "from",
                reason: "'\(configuration.from)' is not an e-mail address")
        }
        let settings = Settings(
            from: from, to: configuration.to, cc: configuration.cc, messageIDDomain: configuration.messageIDDomain,
            inReplyTo: configuration.inReplyTo, headers: configuration.headers, template: template)
        try self.init(
            settings: settings, client: SMTPClient(settings: try configuration.server.resolve()), logger: logger)
    }
}

extension MailServerReference {
    /// The client settings, with secrets read from the environment or files now.
    public func resolve() throws(SecretError) -> MailServerSettings {
        MailServerSettings(
            url: try url.resolve(), username: try username?.resolve(), password: try password?.resolve(),
            security: MailSecurity(rawValue: security) ?? .startTLS, caFile: caFile, timeout: timeout)
    }
}
