import CCurl
import Foundation

/// A mailbox's identity and size, from `STATUS`.
public struct IMAPMailboxStatus: Sendable, Hashable {
    /// Changes when the server renumbered the mailbox; UIDs of different validities are unrelated.
    public var uidValidity: UInt32
    public var uidNext: UInt32
    public var messages: Int
}

/// A failure of an IMAP command: the transport failed, or the server answered something unexpected.
public struct IMAPError: Error, Sendable, CustomStringConvertible {
    public var command: String
    public var mailbox: String
    public var transport: TransportError?
    public var detail: String

    /// True when trying again later may succeed.
    public var isTransient: Bool { transport?.isTransient ?? false }

    public var description: String {
        let reason = transport?.description ?? detail
        return "IMAP \(command) on mailbox '\(mailbox)' failed: \(reason)"
    }
}

/// An IMAP client over libcurl (`imap://` with optional STARTTLS, `imaps://`), on dedicated threads. Each call is
/// one libcurl transfer; the worker's easy handle keeps the connection (and the selected mailbox) between calls.
///
/// Fetching uses libcurl's `;UID=n` URL, which issues `UID FETCH n BODY[]` and so sets `\Seen`: callers track what
/// they processed themselves (UIDVALIDITY + UID), never by `\Seen`.
public final class IMAPClient: Sendable {
    public let settings: MailServerSettings
    private let workers: CurlWorkers

    /// One worker: commands run in order on one connection.
    public init(settings: MailServerSettings) {
        self.settings = settings
        workers = CurlWorkers(count: 1, name: "crmhub-imap")
    }

    deinit { workers.shutdown() }

    /// `NOOP` on `mailbox` (selected first if it is not): the server brings the connection's view of the mailbox up
    /// to date. Without it a long-lived connection that already selected the mailbox is not shown mail that arrived
    /// since (Dovecot answers STATUS and UID SEARCH from the session's last view).
    public func refresh(mailbox: String) async throws(IMAPError) {
        _ = try await custom("NOOP", path: Self.encode(mailbox), mailbox: mailbox, verb: "NOOP")
    }

    /// `STATUS mailbox (UIDVALIDITY UIDNEXT MESSAGES)`.
    public func status(mailbox: String) async throws(IMAPError) -> IMAPMailboxStatus {
        let command = "STATUS \(Self.quoted(mailbox)) (UIDVALIDITY UIDNEXT MESSAGES)"
        let lines = try await custom(command, path: "", mailbox: mailbox, verb: "STATUS")
        guard let line = lines.first(where: { $0.uppercased().hasPrefix("* STATUS") }),
            let open = line.lastIndex(of: "(")
        else {
            throw IMAPError(command: "STATUS", mailbox: mailbox, transport: nil, detail: "no STATUS response")
        }
        let items = line[line.index(after: open)...].replacingOccurrences(of: ")", with: "").split(separator: " ")
        var values: [String: String] = [:]
        var index = 0
        while index + 1 < items.count {
            values[items[index].uppercased()] = String(items[index + 1])
            index += 2
        }
        guard let validity = values["UIDVALIDITY"].flatMap({ UInt32($0) }),
            let next = values["UIDNEXT"].flatMap({ UInt32($0) })
        else {
            throw IMAPError(
                command: "STATUS", mailbox: mailbox, transport: nil, detail: "STATUS without UIDVALIDITY/UIDNEXT")
        }
        return IMAPMailboxStatus(
            uidValidity: validity, uidNext: next, messages: values["MESSAGES"].flatMap { Int($0) } ?? 0)
    }

    /// The UIDs in `mailbox` greater than `after`, ascending (`UID SEARCH UID after+1:*`, which also names the
    /// highest UID when no greater one exists; that one is filtered out).
    public func uids(mailbox: String, after: UInt32) async throws(IMAPError) -> [UInt32] {
        let command = "UID SEARCH UID \(UInt64(after) + 1):*"
        let lines = try await custom(command, path: Self.encode(mailbox), mailbox: mailbox, verb: "UID SEARCH")
        var uids: [UInt32] = []
        for line in lines where line.uppercased().hasPrefix("* SEARCH") {
            uids += line.dropFirst(8).split(separator: " ").compactMap { UInt32($0) }
        }
        return uids.filter { $0 > after }.sorted()
    }

    /// The whole message with `uid`; fails if the mailbox's UIDVALIDITY is no longer `uidValidity`.
    public func fetch(mailbox: String, uidValidity: UInt32, uid: UInt32) async throws(IMAPError) -> [UInt8] {
        let url = Self.join(settings.url, "\(Self.encode(mailbox));UIDVALIDITY=\(uidValidity)/;UID=\(uid)")
        let result = await perform(url: url, customRequest: nil)
        switch result {
        case .success(let body): return body
        case .failure(let error):
            throw IMAPError(command: "UID FETCH \(uid)", mailbox: mailbox, transport: error, detail: "")
        }
    }

    /// At most the first `limit` bytes of the message with `uid` (`UID FETCH uid BODY[]<0.limit+1>`, through
    /// libcurl's `;PARTIAL=` URL), and whether the message is longer: a huge message (a 20 MiB attachment) never
    /// holds more than `limit + 1` bytes in memory. Fails if the mailbox's UIDVALIDITY is no longer `uidValidity`.
    public func fetch(
        mailbox: String, uidValidity: UInt32, uid: UInt32, limit: Int
    ) async throws(IMAPError) -> (bytes: [UInt8], truncated: Bool) {
        let url = Self.join(
            settings.url, "\(Self.encode(mailbox));UIDVALIDITY=\(uidValidity)/;UID=\(uid);PARTIAL=0.\(limit + 1)")
        let result = await perform(url: url, customRequest: nil)
        switch result {
        case .success(let body):
            guard body.count > limit else { return (body, false) }
            return (Array(body.prefix(limit)), true)
        case .failure(let error):
            throw IMAPError(
                command: "UID FETCH \(uid) BODY[]<0.\(limit + 1)>", mailbox: mailbox, transport: error, detail: "")
        }
    }

    /// `UID STORE uid +FLAGS (flags)`: keywords (e.g. `crmhub-processed`) or system flags.
    public func addFlags(_ flags: [String], mailbox: String, uid: UInt32) async throws(IMAPError) {
        _ = try await custom(
            "UID STORE \(uid) +FLAGS (\(flags.joined(separator: " ")))", path: Self.encode(mailbox), mailbox: mailbox,
            verb: "UID STORE")
    }

    /// `UID STORE uid,uid,... +FLAGS (flags)` for several messages in one command.
    public func addFlags(_ flags: [String], mailbox: String, uids: [UInt32]) async throws(IMAPError) {
        let set = uids.map(String.init).joined(separator: ",")
        _ = try await custom(
            "UID STORE \(set) +FLAGS (\(flags.joined(separator: " ")))", path: Self.encode(mailbox), mailbox: mailbox,
            verb: "UID STORE")
    }

    /// The flags of `uid` (`UID FETCH uid (FLAGS)`).
    public func flags(mailbox: String, uid: UInt32) async throws(IMAPError) -> [String] {
        let lines = try await custom(
            "UID FETCH \(uid) (FLAGS)", path: Self.encode(mailbox), mailbox: mailbox, verb: "UID FETCH")
        guard let line = lines.first(where: { $0.uppercased().contains("FLAGS (") }),
            let range = line.range(of: "FLAGS (", options: .caseInsensitive),
            let close = line[range.upperBound...].firstIndex(of: ")")
        else { return [] }
        return line[range.upperBound..<close].split(separator: " ").map(String.init)
    }

    /// Runs a custom command (the untagged responses come back as lines); with a mailbox path libcurl selects it first.
    private func custom(
        _ command: String, path: String, mailbox: String, verb: String
    ) async throws(IMAPError) -> [String] {
        let result = await perform(url: Self.join(settings.url, path), customRequest: command)
        switch result {
        case .success(let body):
            return String(decoding: body, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map {
                $0.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        case .failure(let error):
            throw IMAPError(command: verb, mailbox: mailbox, transport: error, detail: "")
        }
    }

    private func perform(url: String, customRequest: String?) async -> Result<[UInt8], TransportError> {
        let settings = self.settings
        if let problem = settings.securityProblem {
            return .failure(
                TransportError(
                    kind: .configuration, curlCode: 0, message: problem, target: HTTPClient.redacted(settings.url)))
        }
        return await workers.run { handle in
            let buffer = IMAPBuffer()
            settings.apply(to: handle, url: url)
            if let customRequest { ccurl_setopt_pointer(handle, CURLOPT_CUSTOMREQUEST, customRequest) }
            ccurl_setopt_write_function(handle, collectIMAP)
            ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(buffer).toOpaque())
            let code = curl_easy_perform(handle)
            guard code == CURLE_OK else { return .failure(TransportError(code, target: HTTPClient.redacted(url))) }
            return .success(buffer.bytes)
        }
    }

    /// `base` (`imap://host:port` with or without a trailing slash) joined with a path.
    static func join(_ base: String, _ path: String) -> String {
        (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/" + path
    }

    /// A mailbox name as a URL path segment.
    static func encode(_ mailbox: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return mailbox.addingPercentEncoding(withAllowedCharacters: allowed) ?? mailbox
    }

    /// A mailbox name as an IMAP quoted string.
    static func quoted(_ mailbox: String) -> String {
        "\"" + mailbox.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

private final class IMAPBuffer {
    var bytes: [UInt8] = []
}

private let collectIMAP: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    guard let data, let context else { return 0 }
    let buffer = Unmanaged<IMAPBuffer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    data.withMemoryRebound(to: UInt8.self, capacity: length) {
        buffer.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
    }
    return length
}
