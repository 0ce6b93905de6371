import Foundation

/// The JSON document an inbound mail becomes (what `Mappings/inbound-email.yaml` reads): `message_id` (with
/// brackets), `from`, `to`, `subject`, `text`, `html`, `received_at` (the Date header, else now, ISO 8601),
/// `in_reply_to`, `references`, `thread_root` (the first References id, else In-Reply-To: the message that
/// opened the thread), `headers` (lower-cased names, first value) and `_mail` (source, mailbox, uidvalidity, uid,
/// `truncated` and `warnings` when the mail was read best-effort).
public enum InboundMailDocument {
    public static func make(
        _ mail: ParsedMail, messageID: String, source: String, mailbox: String, uidValidity: UInt32, uid: UInt32,
        truncated: Bool = false
    ) -> [UInt8] {
        var origin: [String: Any] = [
            "source": source, "mailbox": mailbox, "uidvalidity": Int(uidValidity), "uid": Int(uid),
        ]
        if truncated { origin["truncated"] = true }
        if !mail.warnings.isEmpty { origin["warnings"] = mail.warnings }
        var headers: [String: String] = [:]
        for header in mail.headers where headers[header.name.lowercased()] == nil {
            headers[header.name.lowercased()] = header.value
        }
        var document: [String: Any] = [
            "message_id": "<\(messageID)>",
            "from": mail.header("From") ?? "",
            "to": mail.header("To") ?? "",
            "subject": mail.subject ?? "",
            "received_at": (mail.date ?? Date()).formatted(.iso8601),
            "headers": headers,
            "references": mail.references.map { "<\($0)>" },
            "_mail": origin,
        ]
        if let text = mail.text { document["text"] = text }
        if let html = mail.html { document["html"] = html }
        if let inReplyTo = mail.inReplyTo { document["in_reply_to"] = "<\(inReplyTo)>" }
        if let root = mail.references.first ?? mail.inReplyTo { document["thread_root"] = "<\(root)>" }
        return (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])).map(Array.init)
            ?? Array("{}".utf8)
    }
}
