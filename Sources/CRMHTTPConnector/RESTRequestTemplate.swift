import Foundation

/// How a REST sink turns one message into a request: a URL template filled from the message, and the body's
/// encoding. The message body is the mapping's output (a JSON object), so an ERP with a plain REST API needs only a
/// connector file and a mapping, no code.
///
/// URL placeholders: `{key}` (the Kafka key), `{id}` (the message id) and `{field}` or `{a.b}` (a string or number
/// at that path in the JSON body). Values are percent-encoded as one path segment. A placeholder with no value is a
/// permanent failure for that message: a retry cannot make the field appear. With a form body, top-level fields
/// used in the URL are left out of the body (they name the resource, they are not attributes of it).
public struct RESTRequestTemplate: Sendable, Equatable {
    /// How the message body is sent.
    public enum BodyEncoding: String, Sendable {
        /// The message bytes as they are (`application/json`).
        case json
        /// The JSON object as `application/x-www-form-urlencoded`, nested keys as `a[b]` and lists as `a[0]`
        /// (Stripe's API and many older ERPs).
        case form
        /// No body (`DELETE`, or `POST` to an action URL).
        case none
    }

    public var url: String
    public var encoding: BodyEncoding

    public init(url: String, encoding: BodyEncoding = .json) {
        self.url = url
        self.encoding = encoding
    }

    /// The placeholders in the URL, in order.
    public var placeholders: [String] {
        var names: [String] = []
        var rest = url[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// Why a message cannot be turned into a request.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The URL, content type and body for one message.
    public func render(
        key: String?, id: String, body: [UInt8]
    ) throws(Failure) -> (url: String, contentType: String?, body: [UInt8]) {
        let needsDocument = encoding == .form || placeholders.contains { $0 != "key" && $0 != "id" }
        var document: [String: Any] = [:]
        if needsDocument {
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
                throw Failure(description: "the message body is not a JSON object")
            }
            document = object
        }
        var rendered = url
        for name in placeholders {
            let value: String?
            switch name {
            case "key": value = key
            case "id": value = id
            default: value = Self.scalar(at: name, in: document)
            }
            guard let value, !value.isEmpty else {
                throw Failure(description: "the URL needs '\(name)', which the message does not have")
            }
            let segment = value.addingPercentEncoding(withAllowedCharacters: Self.pathSegmentAllowed) ?? value
            rendered = rendered.replacingOccurrences(of: "{\(name)}", with: segment)
        }
        switch encoding {
        case .json: return (rendered, "application/json", body)
        case .none: return (rendered, nil, [])
        case .form:
            // A field that went into the URL (`/v1/customers/{stripe_id}`) is not also a form parameter.
            for name in placeholders where !name.contains(".") { document.removeValue(forKey: name) }
            return (rendered, "application/x-www-form-urlencoded", Array(Self.formEncode(document).utf8))
        }
    }

    /// RFC 3986 `pchar` without `/`: what may stay unescaped inside one path segment.
    static let pathSegmentAllowed: CharacterSet = {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        allowed.insert(charactersIn: "-._~!$&'()*+,;=:@")
        return allowed
    }()

    static func scalar(at path: String, in document: [String: Any]) -> String? {
        var current: Any = document
        for part in path.split(separator: ".") {
            guard let object = current as? [String: Any], let next = object[String(part)] else { return nil }
            current = next
        }
        switch current {
        case let text as String: return text
        case let number as NSNumber: return number.stringValue
        default: return nil
        }
    }

    /// `a=1&b[c]=2&d[0]=x`, keys sorted so the same message always gives the same body.
    static func formEncode(_ document: [String: Any]) -> String {
        var pairs: [(String, String)] = []
        func add(_ name: String, _ value: Any) {
            switch value {
            case let object as [String: Any]:
                for key in object.keys.sorted() { add("\(name)[\(key)]", object[key]!) }
            case let list as [Any]:
                for (index, element) in list.enumerated() { add("\(name)[\(index)]", element) }
            case let text as String:
                pairs.append((name, text))
            case let number as NSNumber:
                // JSONSerialization gives booleans as NSNumber (type code "c"); send them as the words APIs expect.
                let isBoolean = String(cString: number.objCType) == "c"
                pairs.append((name, isBoolean ? (number.boolValue ? "true" : "false") : number.stringValue))
            default:
                break  // null: the field is left out
            }
        }
        for key in document.keys.sorted() { add(key, document[key]!) }
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        allowed.insert(charactersIn: "-._~")
        return pairs.map { name, value in
            (name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name) + "="
                + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
        }.joined(separator: "&")
    }
}
