import CRMConnector
import CRMKafka
import CRMModel
import Foundation
import HTTPTypes
import Logging
import Metrics
import Synchronization

/// Web-form connectors: one `POST` endpoint per form, accepting
/// `application/x-www-form-urlencoded`, `multipart/form-data` (fields, plus attachments kept as references under
/// `attachmentsDirectory`) and JSON objects. The message is a JSON object with the form's fields at the top level
/// and the hub's facts under `_form` (form name, received_at, attachments, user_agent).
///
/// Answers: **202** `{"id": ...}` only after Kafka acknowledged the message; **400** unreadable body, invalid UTF-8
/// or a filled honeypot; **413** body or attachment too large; **415** unsupported content type; **422** a required
/// field missing; **503** Kafka did not acknowledge within the form's `ack_timeout_ms` (retry with the same
/// `Idempotency-Key`: it becomes the message id, so downstream deduplication sees one message).
public enum WebFormIngress {
    /// A form served by the ingress.
    public struct Form: Sendable {
        public var name: String
        public var settings: WebFormConnector.Settings

        public init(name: String, settings: WebFormConnector.Settings) {
            self.name = name
            self.settings = settings
        }
    }

    /// The form's ingress endpoint: posts become messages on the form's topic through `emitter`; attachments are
    /// kept under `<attachmentsDirectory>/<form>/<id>/`.
    public static func endpoint(
        _ form: Form, emitter: SourceEmitter, attachmentsDirectory: String, logger: Logger
    ) -> IngressEndpoint {
        let handler = FormHandler(
            form: form, emitter: emitter, attachmentsDirectory: attachmentsDirectory, logger: logger)
        return IngressEndpoint(connector: form.name, path: form.settings.path, maxBodyBytes: form.settings.maxBodyBytes)
        { request, answer in
            handler.respond(to: request, answer: answer)
        }
    }
}

extension WebFormIngress {
    /// The prefix the shipped `web-form` mapping puts before a post's id in its ticket id, and so in the timeline
    /// ref of the post.
    public static let timelineRefPrefix = "web-"

    /// The name of a post's attachment folder (letters, digits and `-`; anything else becomes `_`).
    static func folderName(postID: String) -> String {
        String(postID.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" })
    }

    /// Deletes the attachments stored for these posts (right to erasure), in every form's folder under
    /// `attachmentsDirectory`. `timelineRefs` are the refs of the person's web-form timeline entries (`web-<post id>`,
    /// the erase event's `erasedFormPosts`); a ref without the prefix is taken as the post id itself.
    /// - Returns: how many post folders were deleted.
    @discardableResult
    public static func removeAttachments(
        ofTimelineRefs timelineRefs: [String], in attachmentsDirectory: String
    ) throws
        -> Int
    {
        let files = FileManager.default
        let root = URL(fileURLWithPath: attachmentsDirectory)
        guard !timelineRefs.isEmpty, let forms = try? files.contentsOfDirectory(atPath: root.path) else { return 0 }
        let folders = Set(
            timelineRefs.map { ref in
                folderName(
                    postID: ref.hasPrefix(timelineRefPrefix) ? String(ref.dropFirst(timelineRefPrefix.count)) : ref)
            })
        var removed = 0
        for form in forms {
            for folder in folders {
                let post = root.appendingPathComponent(form).appendingPathComponent(folder)
                guard files.fileExists(atPath: post.path) else { continue }
                try files.removeItem(at: post)
                removed += 1
            }
        }
        return removed
    }
}

/// Handles one form's posts.
struct FormHandler: Sendable {
    let form: WebFormIngress.Form
    let emitter: SourceEmitter
    let attachmentsDirectory: String
    let logger: Logger
    let accepted: Counter
    let latency: Timer

    init(form: WebFormIngress.Form, emitter: SourceEmitter, attachmentsDirectory: String, logger: Logger) {
        self.form = form
        self.emitter = emitter
        self.attachmentsDirectory = attachmentsDirectory
        var logger = logger
        logger[metadataKey: "form"] = "\(form.name)"
        self.logger = logger
        accepted = Counter(label: "crmhub_ingress_accepted_total", dimensions: [("connector", form.name)])
        latency = Timer(
            label: "crmhub_ingress_ack_latency_seconds", dimensions: [("connector", form.name)],
            preferredDisplayUnit: .seconds)
    }

    /// Answers a post: parses and checks it on the caller's thread, then produces it and gives `answer` from the
    /// delivery report. A post with attachments writes them from a task of its own first (file I/O is not done on
    /// the request's task, so its timeout still answers on time).
    func respond(to request: IngressRequest, answer: IngressAnswer) {
        let started = ContinuousClock.now
        let settings = form.settings
        let bytes = request.body
        let contentType = request.headers[.contentType] ?? ""
        let headerID = request.headers[Self.idempotencyKey].flatMap(Self.usableID)
        let submission: Submission
        do {
            submission = try Submission.parse(
                bytes, contentType: contentType,
                limits: .init(
                    attachmentBytes: settings.maxAttachmentBytes, fields: settings.maxFields, parts: settings.maxParts))
        } catch let error as SubmissionError {
            answer.finish(reject(error.status, error.message, reason: error.reason))
            return
        } catch {
            answer.finish(reject(.badRequest, "\(error)", reason: "unreadable"))
            return
        }
        let fieldID = settings.idField.flatMap { submission.fields[$0]?.first }.flatMap {
            Self.usableID(String($0.trimmingWhitespace()))
        }
        let id = fieldID ?? headerID ?? MessageID.random()
        if let honeypot = settings.honeypotField, !(submission.fields[honeypot]?.allSatisfy(\.isEmpty) ?? true) {
            answer.finish(reject(.badRequest, "the submission was refused", reason: "honeypot"))
            return
        }
        let missing = settings.requiredFields.filter {
            (submission.fields[$0] ?? []).allSatisfy { $0.trimmingWhitespace().isEmpty }
        }
        if !missing.isEmpty {
            answer.finish(
                reject(
                    .unprocessableContent, "required field(s) missing: \(missing.joined(separator: ", "))",
                    reason: "missing_fields"))
            return
        }
        let userAgent = request.headers[.userAgent] ?? ""
        if submission.attachments.isEmpty {
            produce(submission, id: id, attachments: [], userAgent: userAgent, started: started, answer: answer)
            return
        }
        Task {
            let attachments: [JSONValue]
            do {
                attachments = try store(submission.attachments, id: id)
            } catch {
                logger.error("cannot store attachments", metadata: ["error": "\(error)", "id": "\(id)"])
                answer.finish(
                    reject(
                        .serviceUnavailable, "attachments cannot be stored right now; retry later", reason: "storage"))
                return
            }
            produce(
                submission, id: id, attachments: attachments, userAgent: userAgent, started: started, answer: answer)
        }
    }

    private static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    /// Produces the post's message and gives `answer` once Kafka decided.
    private func produce(
        _ submission: Submission, id: String, attachments: [JSONValue], userAgent: String,
        started: ContinuousClock.Instant, answer: IngressAnswer
    ) {
        let settings = form.settings
        // The form's fields at the top level (as a mapping reads them), the hub's own facts under `_form`; keys
        // sorted. (Built as a `JSONValue`: Foundation's JSONSerialization was a third of the ingress's CPU time.)
        let receivedAt = Timestamp.iso8601(secondsSince1970: Int64(Date().timeIntervalSince1970.rounded(.down)))
        var document: [(String, JSONValue)] = submission.fields.compactMap { name, values in
            guard name != settings.honeypotField, !name.hasPrefix("_") else { return nil }
            return (name, values.count == 1 ? .string(values[0]) : .array(values.map(JSONValue.string)))
        }
        document.append(
            (
                "_form",
                .object([
                    ("attachments", .array(attachments)), ("id", .string(id)), ("name", .string(form.name)),
                    ("received_at", .string(receivedAt)),
                    ("user_agent", .string(userAgent)),
                ])
            ))
        document.sort { $0.0 < $1.0 }
        let value = JSONValue.object(document).jsonBytes()
        let key = settings.keyField.flatMap { submission.fields[$0]?.first }.map {
            Array($0.trimmingWhitespace().lowercased().utf8)
        }
        let message = ProducerMessage(
            topic: settings.topic, key: key, value: value,
            headers: [
                KafkaHeader(key: EnvelopeHeader.id, text: id),
                KafkaHeader(key: EnvelopeHeader.origin, text: "webform/\(form.name)"),
            ])
        let handler = self
        IngressReply.stored(
            message, emitter: emitter, timeout: settings.ackTimeout, id: id,
            retryHint: "retry with Idempotency-Key: \(id)", logger: logger, answer: answer,
            then: { response in
                if response.status != .accepted, !attachments.isEmpty { handler.removeAttachments(id: id) }
            },
            accepted: {
                handler.accepted.increment()
                handler.latency.record(duration: started.duration(to: .now))
                return handler.json(.accepted, ["id": id, "status": "accepted"])
            })
    }

    /// A post id from a header or a field: non-empty and at most 200 characters, else none.
    static func usableID(_ text: String) -> String? { text.isEmpty || text.count > 200 ? nil : text }

    /// The folder a submission's attachments are written to.
    private func attachmentFolder(id: String) -> URL {
        URL(fileURLWithPath: attachmentsDirectory).appendingPathComponent(form.name)
            .appendingPathComponent(WebFormIngress.folderName(postID: id))
    }

    /// Removes a submission's attachments: Kafka did not take the message that refers to them, so nothing ever will
    /// read them (a retry with the same Idempotency-Key writes them again).
    private func removeAttachments(id: String) {
        do {
            try FileManager.default.removeItem(at: attachmentFolder(id: id))
            logger.info("attachments of a submission Kafka did not store removed", metadata: ["id": "\(id)"])
        } catch {
            logger.error("cannot remove attachments", metadata: ["id": "\(id)", "error": "\(error)"])
        }
    }

    /// Writes attachments under `<attachmentsDirectory>/<form>/<id>/` and returns their references.
    private func store(_ attachments: [FormPart], id: String) throws -> [JSONValue] {
        guard !attachments.isEmpty else { return [] }
        let directory = attachmentFolder(id: id)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try attachments.enumerated().map { index, part in
            let original = part.filename ?? "attachment"
            let safeName =
                "\(index)-"
                + String(original.suffix(100).map { $0.isLetter || $0.isNumber || ".-_".contains($0) ? $0 : "_" })
            let file = directory.appendingPathComponent(safeName)
            try Data(part.body).write(to: file, options: .atomic)
            return .object([
                ("content_type", .string(part.contentType ?? "application/octet-stream")),
                ("field", .string(part.name)), ("filename", .string(original)), ("ref", .string(file.absoluteString)),
                ("size", .number(String(part.body.count))),
            ])
        }
    }

    private func reject(_ status: HTTPResponse.Status, _ message: String, reason: String) -> IngressResponse {
        IngressReply.reject(status, message, reason: reason, connector: form.name, logger: logger)
    }

    private func json(_ status: HTTPResponse.Status, _ object: [String: String]) -> IngressResponse {
        IngressReply.json(status, object)
    }
}
