import CCurl
import Foundation

/// How a mail client secures its connection.
public enum MailSecurity: String, Sendable {
    /// Plain text (loopback and tests only).
    case none
    /// Upgrade with STARTTLS; fail if the server does not offer it.
    case startTLS = "starttls"
    /// TLS from the first byte (`smtps://`, `imaps://` URLs).
    case implicitTLS = "tls"

    /// Why this security setting cannot be used with a URL of `scheme`, or nil when they agree: `smtps`/`imaps`
    /// need `tls`; `smtp`/`imap` need `starttls` or `none` (a `tls` setting there would silently talk plain text).
    public func disagreement(withScheme scheme: String) -> String? {
        let lowered = scheme.lowercased()
        let implicitSchemes = ["smtps", "imaps"]
        let plainSchemes = ["smtp", "imap"]
        switch self {
        case .implicitTLS where plainSchemes.contains(lowered):
            return "security 'tls' needs an \(lowered)s:// URL; with \(lowered):// use 'starttls' (TLS required)"
        case .startTLS where implicitSchemes.contains(lowered), .none where implicitSchemes.contains(lowered):
            return "an \(lowered):// URL is TLS from the first byte: set security 'tls', not '\(rawValue)'"
        default:
            return nil
        }
    }
}

/// Where and how a mail client connects.
public struct MailServerSettings: Sendable {
    /// `smtp://host:port/EHLO-NAME`, `smtps://...`, `imap://host:port`, `imaps://...`. No credentials in it.
    public var url: String
    public var username: String?
    public var password: String?
    public var security: MailSecurity
    /// A PEM bundle of trusted CAs (a private CA or self-signed server); the system's store when nil.
    public var caFile: String?
    /// Whole-transfer timeout. Default 30 s.
    public var timeout: Duration
    /// Timeout of the connect phase, which for SMTP and IMAP includes greeting, STARTTLS and login (servers
    /// delay failed logins by seconds). Default 15 s.
    public var connectTimeout: Duration

    public init(
        url: String, username: String? = nil, password: String? = nil, security: MailSecurity = .startTLS,
        caFile: String? = nil,
        timeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(15)
    ) {
        self.url = url
        self.username = username
        self.password = password
        self.security = security
        self.caFile = caFile
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }

    /// Why these settings must not be used (scheme and security disagree), or nil.
    public var securityProblem: String? {
        guard let scheme = URLComponents(string: url)?.scheme else {
            return "'\(HTTPClient.redacted(url))' has no scheme"
        }
        return security.disagreement(withScheme: scheme)
    }

    /// Applies URL, credentials, TLS and timeouts to an easy handle. Strings must outlive the transfer: they are
    /// copied by libcurl (it copies every string option since 7.17).
    func apply(to handle: UnsafeMutableRawPointer, url: String) {
        ccurl_setopt_pointer(handle, CURLOPT_URL, url)
        ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, mailMilliseconds(timeout))
        ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, mailMilliseconds(connectTimeout))
        if let username { ccurl_setopt_pointer(handle, CURLOPT_USERNAME, username) }
        if let password { ccurl_setopt_pointer(handle, CURLOPT_PASSWORD, password) }
        // TLS is required whenever it is configured: with `smtps://`/`imaps://` libcurl starts with TLS, and with a
        // plain scheme a missing STARTTLS fails the transfer instead of falling back to plain text.
        if security != .none { ccurl_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)) }
        if let caFile { ccurl_setopt_pointer(handle, CURLOPT_CAINFO, caFile) }
    }
}

/// The server's answer to one recipient of one message.
public struct SMTPRecipientResult: Sendable, Hashable {
    public enum Status: String, Sendable {
        /// Accepted (2xx) and the message data accepted too.
        case delivered
        /// 4xx (to the recipient or the data), or the connection failed: try again later.
        case transient
        /// 5xx (to the recipient or the data): retrying cannot help.
        case permanent
    }

    public var recipient: String
    public var status: Status
    /// The SMTP reply code (0 when the connection failed before the server answered).
    public var code: Int
    /// The server's reply text (may name the recipient; redact before logging it with personal data).
    public var reply: String
}

/// What one SMTP transaction achieved, per recipient.
public struct SMTPSendResult: Sendable {
    public var recipients: [SMTPRecipientResult]
    /// The final reply code libcurl saw (`CURLINFO_RESPONSE_CODE`).
    public var lastReplyCode: Int
    /// The transport failure, when the transaction did not complete.
    public var transportError: TransportError?

    public var delivered: [SMTPRecipientResult] { recipients.filter { $0.status == .delivered } }
    public var transient: [SMTPRecipientResult] { recipients.filter { $0.status == .transient } }
    public var permanent: [SMTPRecipientResult] { recipients.filter { $0.status == .permanent } }
}

/// An SMTP submission client over libcurl (`smtp://` with optional STARTTLS, `smtps://`, AUTH with the configured
/// credentials). One bad recipient does not fail the others (`CURLOPT_MAIL_RCPT_ALLOWFAILS`); each recipient's
/// reply is read from the protocol transcript. Transfers run on dedicated threads.
public final class SMTPClient: Sendable {
    public let settings: MailServerSettings
    private let workers: CurlWorkers

    public init(settings: MailServerSettings, concurrency: Int = 2) {
        self.settings = settings
        workers = CurlWorkers(count: concurrency, name: "crmhub-smtp")
    }

    deinit { workers.shutdown() }

    /// The server URL without credentials (safe to log).
    public var target: String { HTTPClient.redacted(settings.url) }

    /// Sends `message` to `recipients` (its To/Cc/Bcc addresses by default) with envelope sender `sender` (its
    /// From address by default). Never throws: a connection failure marks every recipient transient (or
    /// permanent for TLS and configuration errors, which need an operator).
    public func send(_ message: MailMessage, recipients: [String]? = nil, sender: String? = nil) async -> SMTPSendResult
    {
        let envelope = recipients ?? message.recipients
        let from = sender ?? message.from.address
        let payload = message.rendered()
        let settings = self.settings
        return await workers.run { handle in
            Self.perform(payload, from: from, recipients: envelope, settings: settings, on: handle)
        }
    }

    private static func perform(
        _ payload: [UInt8], from: String, recipients: [String], settings: MailServerSettings,
        on handle: UnsafeMutableRawPointer
    ) -> SMTPSendResult {
        if let problem = settings.securityProblem {
            let error = TransportError(
                kind: .configuration, curlCode: 0, message: problem, target: HTTPClient.redacted(settings.url))
            return SMTPSendResult(
                recipients: recipients.map {
                    SMTPRecipientResult(recipient: $0, status: .permanent, code: 0, reply: error.description)
                }, lastReplyCode: 0, transportError: error)
        }
        let transfer = SMTPTransfer(payload: payload)
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        var recipientList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(recipientList) }
        for recipient in recipients { recipientList = curl_slist_append(recipientList, "<\(recipient)>") }

        settings.apply(to: handle, url: settings.url)
        ccurl_setopt_pointer(handle, CURLOPT_MAIL_FROM, "<\(from)>")
        ccurl_setopt_pointer(handle, CURLOPT_MAIL_RCPT, recipientList)
        ccurl_setopt_mail_rcpt_allowfails(handle, 1)
        ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1)
        ccurl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(payload.count))
        ccurl_setopt_read_function(handle, readPayload)
        ccurl_setopt_pointer(handle, CURLOPT_READDATA, context)
        ccurl_setopt_long(handle, CURLOPT_VERBOSE, 1)  // the debug callback below sees the transcript
        ccurl_setopt_debug_function(handle, recordTranscript)
        ccurl_setopt_pointer(handle, CURLOPT_DEBUGDATA, context)
        let code = curl_easy_perform(handle)
        var lastReply = 0
        ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &lastReply)
        // Keep no reference to this transfer in the reused handle.
        ccurl_setopt_pointer(handle, CURLOPT_MAIL_RCPT, nil)

        let error = code == CURLE_OK ? nil : TransportError(code, target: HTTPClient.redacted(settings.url))
        let results = transfer.transcript.classify(recipients: recipients, transportError: error)
        return SMTPSendResult(recipients: results, lastReplyCode: lastReply, transportError: error)
    }
}

/// The SMTP dialogue as libcurl reports it: commands out and reply lines in, paired in order (libcurl sends one
/// command at a time).
struct SMTPTranscript {
    struct Exchange {
        var command: String
        var code: Int
        var text: String
    }

    private(set) var exchanges: [Exchange] = []
    private var pendingCommand = "<greeting>"
    private var replyText = ""
    private var lastCode = 0

    /// A line the client sent. Credentials never stay: only the verb of AUTH is kept, and an answer to a 334
    /// challenge is not kept at all.
    mutating func sent(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return }
        guard lastCode != 334 else {
            pendingCommand = "<auth-response>"
            return
        }
        pendingCommand =
            trimmed.uppercased().hasPrefix("RCPT") || trimmed.uppercased().hasPrefix("MAIL")
                || trimmed.uppercased() == "DATA"
            ? trimmed : String(trimmed.prefix { $0 != " " }).uppercased()
    }

    /// A reply line; the last line of a reply (`250 ok`, not `250-...`) completes the exchange.
    mutating func received(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count >= 3, let code = Int(trimmed.prefix(3)) else { return }
        let rest = trimmed.dropFirst(3)
        replyText += (replyText.isEmpty ? "" : " ") + rest.dropFirst().trimmingCharacters(in: .whitespaces)
        guard rest.first != "-" else { return }
        exchanges.append(Exchange(command: pendingCommand, code: code, text: replyText))
        replyText = ""
        lastCode = code
        // After 354 the client streams the data (not a command line); the next reply answers its end.
        pendingCommand = code == 354 ? "<end-of-data>" : "<unsolicited>"
    }

    /// Each recipient's outcome: its RCPT reply, then (if accepted) the reply to the end of the data.
    func classify(recipients: [String], transportError: TransportError?) -> [SMTPRecipientResult] {
        let dataReply = exchanges.last { $0.command == "<end-of-data>" }
        return recipients.map { recipient in
            let rcpt = exchanges.last { exchange in
                exchange.command.uppercased().hasPrefix("RCPT")
                    && exchange.command.lowercased().contains("<\(recipient.lowercased())>")
            }
            guard let rcpt else {
                // The transaction broke before this recipient was offered.
                let permanent = transportError.map { !$0.isTransient } ?? false
                let lastFailure = exchanges.last { $0.code >= 400 }
                if let lastFailure, lastFailure.code >= 500, transportError?.isTransient != true {
                    return SMTPRecipientResult(
                        recipient: recipient, status: .permanent, code: lastFailure.code, reply: lastFailure.text)
                }
                if let lastFailure, lastFailure.code >= 400 {
                    return SMTPRecipientResult(
                        recipient: recipient, status: .transient, code: lastFailure.code, reply: lastFailure.text)
                }
                return SMTPRecipientResult(
                    recipient: recipient, status: permanent ? .permanent : .transient, code: 0,
                    reply: transportError?.description ?? "not offered")
            }
            if rcpt.code >= 500 {
                return SMTPRecipientResult(recipient: recipient, status: .permanent, code: rcpt.code, reply: rcpt.text)
            }
            if rcpt.code >= 400 {
                return SMTPRecipientResult(recipient: recipient, status: .transient, code: rcpt.code, reply: rcpt.text)
            }
            guard let dataReply else {
                return SMTPRecipientResult(
                    recipient: recipient, status: .transient, code: 0,
                    reply: transportError?.description ?? "no reply to the message data")
            }
            let status: SMTPRecipientResult.Status =
                dataReply.code < 400 ? .delivered : dataReply.code < 500 ? .transient : .permanent
            return SMTPRecipientResult(
                recipient: recipient, status: status, code: dataReply.code, reply: dataReply.text)
        }
    }
}

/// One SMTP transfer's state; lives for the duration of `curl_easy_perform` on one thread.
private final class SMTPTransfer {
    let payload: [UInt8]
    var offset = 0
    var transcript = SMTPTranscript()

    init(payload: [UInt8]) { self.payload = payload }
}

private let readPayload: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    buffer, size, count, context in
    guard let buffer, let context else { return 0 }
    let transfer = Unmanaged<SMTPTransfer>.fromOpaque(context).takeUnretainedValue()
    let length = min(size * count, transfer.payload.count - transfer.offset)
    guard length > 0 else { return 0 }
    transfer.payload.withUnsafeBufferPointer { source in
        UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + transfer.offset, byteCount: length)
    }
    transfer.offset += length
    return length
}

private let recordTranscript: ccurl_debug_callback = { _, type, data, size, context in
    guard let data, let context else { return 0 }
    guard type == CURLINFO_HEADER_IN || type == CURLINFO_HEADER_OUT else { return 0 }
    let transfer = Unmanaged<SMTPTransfer>.fromOpaque(context).takeUnretainedValue()
    let text = data.withMemoryRebound(to: UInt8.self, capacity: size) {
        String(decoding: UnsafeBufferPointer(start: $0, count: size), as: UTF8.self)
    }
    for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
        if type == CURLINFO_HEADER_IN {
            transfer.transcript.received(String(line))
        } else {
            transfer.transcript.sent(String(line))
        }
    }
    return 0
}

func mailMilliseconds(_ duration: Duration) -> Int {
    Int(duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000)
}
