// CRMWebFormats: what web forms and webhooks send, read without any I/O — form bodies (urlencoded, multipart, JSON
// objects), the Stripe-Signature check and the Stripe event envelope. Kept apart from the connectors so that the
// fuzzers (Sources/crmhub-fuzz) build on it alone.

import CRMModel
import Foundation
import HTTPTypes

/// A form body, read according to its content type.
public struct Submission: Sendable {
    /// The text fields, by name, in the order each name's values came.
    public var fields: [String: [String]] = [:]
    /// The file parts (uploads), not yet stored anywhere.
    public var attachments: [FormPart] = []

    /// Caps on what one submission may hold.
    public struct Limits: Sendable {
        /// Largest accepted attachment.
        public var attachmentBytes: Int
        /// Most fields (values) one submission may hold. Default 200.
        public var fields = 200
        /// Most multipart parts. Default 50.
        public var parts = 50

        public init(attachmentBytes: Int, fields: Int = 200, parts: Int = 50) {
            self.attachmentBytes = attachmentBytes
            self.fields = fields
            self.parts = parts
        }
    }

    /// Reads `body` as `contentType` says (urlencoded, multipart or a JSON object).
    /// - Throws: ``SubmissionError`` with the HTTP status and metric reason of the refusal.
    public static func parse(_ body: [UInt8], contentType: String, limits: Limits) throws -> Submission {
        let maxAttachmentBytes = limits.attachmentBytes
        let mediaType =
            contentType.split(separator: ";").first.map { $0.trimmingWhitespace().lowercased() } ?? ""
        var submission = Submission()
        switch mediaType {
        case "application/x-www-form-urlencoded":
            do {
                for (name, value) in try URLEncodedForm.parse(body, maxFields: limits.fields) {
                    submission.fields[name, default: []].append(value)
                }
            } catch {
                throw SubmissionError(error, limitReason: "too_many_fields")
            }
        case "multipart/form-data":
            guard let boundary = MultipartFormData.boundary(fromContentType: contentType) else {
                throw SubmissionError(
                    status: .badRequest, message: "multipart/form-data without a boundary", reason: "unreadable")
            }
            let parts: [FormPart]
            do {
                parts = try MultipartFormData.parse(body, boundary: boundary, maxParts: limits.parts)
            } catch {
                throw SubmissionError(error, limitReason: "too_many_parts")
            }
            for part in parts {
                if part.filename != nil {
                    guard !part.body.isEmpty else { continue }  // an empty file input
                    guard part.body.count <= maxAttachmentBytes else {
                        throw SubmissionError(
                            status: .contentTooLarge,
                            message: "attachment '\(part.name)' is larger than \(maxAttachmentBytes) bytes",
                            reason: "attachment_too_large")
                    }
                    submission.attachments.append(part)
                } else {
                    guard let text = String(validating: part.body, as: UTF8.self) else {
                        throw SubmissionError(
                            status: .badRequest, message: "field '\(part.name)' is not valid UTF-8",
                            reason: "invalid_utf8")
                    }
                    submission.fields[part.name, default: []].append(text)
                }
            }
        case "application/json":
            guard String(validating: body, as: UTF8.self) != nil, let document = try? JSONValue.parse(body),
                let members = document.objectMembers
            else {
                throw SubmissionError(
                    status: .badRequest, message: "the body is not a JSON object", reason: "unreadable")
            }
            for (name, value) in members {
                switch value {
                case .string(let text): submission.fields[name] = [text]
                // A number keeps its text as sent (no rounding through a double); a boolean reads as 1 or 0.
                case .number(let text): submission.fields[name] = [text]
                case .bool(let flag): submission.fields[name] = [flag ? "1" : "0"]
                case .array(let items) where items.allSatisfy({ $0.stringValue != nil }):
                    submission.fields[name] = items.compactMap(\.stringValue)
                case .null: continue
                default:
                    throw SubmissionError(
                        status: .badRequest, message: "field '\(name)' must be a string, a number or a list of strings",
                        reason: "unreadable")
                }
            }
        default:
            throw SubmissionError(
                status: .unsupportedMediaType,
                message:
                    "content type '\(mediaType)' is not accepted; use application/x-www-form-urlencoded, multipart/form-data or application/json",
                reason: "content_type")
        }
        guard submission.fields.values.reduce(0, { $0 + $1.count }) <= limits.fields else {
            throw SubmissionError(
                status: .contentTooLarge, message: "the form has more than \(limits.fields) fields",
                reason: "too_many_fields")
        }
        return submission
    }
}

/// Why a submission was refused: the answer's status, its message and the metric's `reason` label.
public struct SubmissionError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    public var reason: String

    public init(status: HTTPResponse.Status, message: String, reason: String) {
        self.status = status
        self.message = message
        self.reason = reason
    }

    /// A parser's refusal: 413 under `limitReason` when the body holds too much, else 400 `unreadable`.
    public init(_ error: FormParseError, limitReason: String) {
        self.init(
            status: error.exceedsLimit ? .contentTooLarge : .badRequest, message: error.description,
            reason: error.exceedsLimit ? limitReason : "unreadable")
    }
}
