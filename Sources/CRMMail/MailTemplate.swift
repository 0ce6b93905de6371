import Foundation
import Mustache

/// A mail template: Mustache templates for the subject, the plain-text body and the HTML body, read from a folder
/// as `<name>.subject.mustache`, `<name>.text.mustache` and `<name>.html.mustache` (at least one body). Subject and
/// text render without escaping; HTML escapes values (`{{{raw}}}` does not).
public struct MailTemplate: Sendable {
    public let name: String
    private let subject: MustacheTemplate
    private let text: MustacheTemplate?
    private let html: MustacheTemplate?

    /// The rendered parts.
    public struct Rendered: Sendable, Equatable {
        public var subject: String
        public var text: String?
        public var html: String?
    }

    /// Compiles templates given as strings.
    public init(name: String, subject: String, text: String?, html: String?) throws(MailTemplateError) {
        guard text != nil || html != nil else {
            throw MailTemplateError(template: name, part: "body", reason: "needs a text or an HTML body")
        }
        self.name = name
        self.subject = try Self.compile(subject, name: name, part: "subject", plain: true)
        self.text = try text.map { source throws(MailTemplateError) in
            try Self.compile(source, name: name, part: "text", plain: true)
        }
        self.html = try html.map { source throws(MailTemplateError) in
            try Self.compile(source, name: name, part: "html", plain: false)
        }
    }

    /// Reads template `name` from `directory`.
    public init(named name: String, directory: String) throws(MailTemplateError) {
        func read(_ part: String) -> String? {
            try? String(
                contentsOfFile: URL(fileURLWithPath: directory).appendingPathComponent("\(name).\(part).mustache").path,
                encoding: .utf8)
        }
        guard let subject = read("subject") else {
            throw MailTemplateError(
                template: name, part: "subject", reason: "\(directory)/\(name).subject.mustache is missing")
        }
        try self.init(name: name, subject: subject, text: read("text"), html: read("html"))
    }

    /// Renders every part with `context` (a JSON object as Foundation values). The subject is one line.
    public func render(_ context: Any) -> Rendered {
        let subjectLine = subject.render(context).split(whereSeparator: \.isNewline).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        .filter { !$0.isEmpty }.joined(separator: " ")
        return Rendered(subject: subjectLine, text: text?.render(context), html: html?.render(context))
    }

    private static func compile(
        _ source: String, name: String, part: String, plain: Bool
    ) throws(MailTemplateError) -> MustacheTemplate {
        let text = plain && !source.contains("CONTENT_TYPE") ? "{{% CONTENT_TYPE: TEXT}}" + source : source
        do {
            return try MustacheTemplate(string: text)
        } catch {
            throw MailTemplateError(template: name, part: part, reason: "\(error)")
        }
    }
}

/// A template that cannot be read or compiled.
public struct MailTemplateError: Error, Sendable, CustomStringConvertible {
    public var template: String
    public var part: String
    public var reason: String
    public var description: String { "mail template '\(template)' (\(part)): \(reason)" }
}
