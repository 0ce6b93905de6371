import CRMModel
import CRMTransport
import Foundation
import Logging

/// Where a Tryton server is and how to log in.
public struct TrytonEndpoint: Sendable {
    /// The server's base URL, e.g. `http://127.0.0.1:8000` (JSON-RPC goes to `<url>/<database>/rpc/`).
    public var url: String
    public var database: String
    public var user: String
    /// Already resolved from its secret reference.
    public var password: String
    /// Whole-call timeout. Default 15 s.
    public var timeout: Duration
    /// Connection timeout. Default 3 s.
    public var connectTimeout: Duration
    /// Context entries sent with every call on top of the user's preferences (e.g. `company`).
    public var context: [(String, JSONValue)]

    public init(
        url: String, database: String, user: String, password: String, timeout: Duration = .seconds(15),
        connectTimeout: Duration = .seconds(3), context: [(String, JSONValue)] = []
    ) {
        self.url = url
        self.database = database
        self.user = user
        self.password = password
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.context = context
    }

    /// `<url>/<database>/rpc/`.
    public var rpcURL: String {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let database = self.database.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? self.database
        return "\(base)/\(database)/rpc/"
    }
}

/// A Tryton JSON-RPC client over ``HTTPClient`` (libcurl on dedicated threads).
///
/// It logs in with `common.db.login` on first use, sends `Authorization: Session base64(login:userid:session)`
/// and the user's preference context (company, language) with every call, and logs in again once when the server
/// answers 401 (the session expired or the server restarted). Replies carrying a JSON-RPC `error` become
/// ``TrytonError`` values classified as transient or permanent.
public actor TrytonClient {
    public nonisolated let endpoint: TrytonEndpoint
    private let http: HTTPClient
    private let logger: Logger
    private var session: Session?
    private var nextID = 1

    private struct Session {
        var authorization: String
        var context: JSONValue
    }

    public init(endpoint: TrytonEndpoint, http: HTTPClient, logger: Logger) {
        self.endpoint = endpoint
        self.http = http
        self.logger = logger
    }

    /// The server without credentials, for logs.
    public nonisolated var target: String { "\(HTTPClient.redacted(endpoint.url)) db=\(endpoint.database)" }

    /// Calls `method` with `parameters` (the session context is appended as the last parameter, merged with
    /// `context`) and returns the `result` with Tryton's tagged values left as they are.
    public func call(
        _ method: String, _ parameters: [JSONValue], context: [(String, JSONValue)] = []
    ) async throws(TrytonError) -> JSONValue {
        let first = try await currentSession()
        let outcome = await attempt(method, parameters, session: first, context: context)
        switch outcome {
        case .success(let value):
            return value
        case .failure(let error):
            guard Self.isExpiredSession(error) else { throw error }
        }
        logger.info("Tryton session refused; logging in again", metadata: ["tryton": "\(target)"])
        session = nil
        let second = try await currentSession()
        let retried = await attempt(method, parameters, session: second, context: context)
        switch retried {
        case .success(let value):
            return value
        case .failure(let error):
            if Self.isExpiredSession(error) {
                throw TrytonError(.authentication(status: 401), method: method, target: target)
            }
            throw error
        }
    }

    /// Forgets the session (the next call logs in again).
    public func logout() {
        session = nil
    }

    // MARK: Model helpers

    /// `model.<model>.search(domain, offset, limit, order, context)`: the ids.
    public func search(
        _ model: String, domain: JSONValue, limit: Int? = nil, order: JSONValue = .null
    ) async throws(TrytonError) -> [Int] {
        let limitValue: JSONValue = limit.map { .number(String($0)) } ?? .null
        let result = try await call("model.\(model).search", [domain, .number("0"), limitValue, order])
        return try ids(result, method: "model.\(model).search")
    }

    /// `model.<model>.search_read`: records with `fields` (dotted names allowed, e.g. `party.code`).
    public func searchRead(
        _ model: String, domain: JSONValue, fields: [String], limit: Int? = nil, order: JSONValue = .null
    ) async throws(TrytonError) -> [JSONValue] {
        let limitValue: JSONValue = limit.map { .number(String($0)) } ?? .null
        let fieldList = JSONValue.array(fields.map { .string($0) })
        let result = try await call("model.\(model).search_read", [domain, .number("0"), limitValue, order, fieldList])
        return try records(result, method: "model.\(model).search_read")
    }

    /// `model.<model>.read(ids, fields)`.
    public func read(_ model: String, ids: [Int], fields: [String]) async throws(TrytonError) -> [JSONValue] {
        let idList = JSONValue.array(ids.map { .number(String($0)) })
        let fieldList = JSONValue.array(fields.map { .string($0) })
        let result = try await call("model.\(model).read", [idList, fieldList])
        return try records(result, method: "model.\(model).read")
    }

    /// `model.<model>.create([values...])`: the new ids.
    public func create(_ model: String, _ values: [JSONValue]) async throws(TrytonError) -> [Int] {
        let result = try await call("model.\(model).create", [.array(values)])
        return try ids(result, method: "model.\(model).create")
    }

    /// `model.<model>.write(ids, values)`.
    public func write(_ model: String, ids: [Int], _ values: JSONValue) async throws(TrytonError) {
        let idList = JSONValue.array(ids.map { .number(String($0)) })
        _ = try await call("model.\(model).write", [idList, values])
    }

    /// A button or workflow method taking a list of ids (`model.sale.sale.quote`, `.confirm`).
    public func button(_ model: String, _ name: String, ids: [Int]) async throws(TrytonError) {
        let idList = JSONValue.array(ids.map { .number(String($0)) })
        _ = try await call("model.\(model).\(name)", [idList])
    }

    // MARK: Transport

    private func currentSession() async throws(TrytonError) -> Session {
        if let session { return session }
        let fresh = try await login()
        session = fresh
        return fresh
    }

    private func login() async throws(TrytonError) -> Session {
        let method = "common.db.login"
        let parameters: [JSONValue] = [
            .string(endpoint.user), .object([("password", .string(endpoint.password))]), .string("en"),
        ]
        let result: JSONValue
        do {
            result = try await rpc(method, parameters, authorization: nil)
        } catch {
            if case .protocolError(let status, _) = error.kind, status == 401 || status == 403 {
                throw TrytonError(.authentication(status: status), method: method, target: target)
            }
            throw error
        }
        guard let userID = result[0]?.scalarText, let token = result[1]?.stringValue else {
            throw TrytonError(
                .protocolError(status: 200, message: "login reply is not [user id, session]"), method: method,
                target: target)
        }
        let credentials = Data("\(endpoint.user):\(userID):\(token)".utf8).base64EncodedString()
        let authorization = "Session \(credentials)"
        let preferences = try await rpc(
            "model.res.user.get_preferences", [.bool(true), .object([])], authorization: authorization)
        var context = preferences.objectMembers ?? []
        context.append(contentsOf: endpoint.context)
        logger.debug("logged in to Tryton", metadata: ["tryton": "\(target)", "user_id": "\(userID)"])
        return Session(authorization: authorization, context: .object(context))
    }

    private func attempt(
        _ method: String, _ parameters: [JSONValue], session: Session, context: [(String, JSONValue)]
    ) async -> Result<JSONValue, TrytonError> {
        do {
            return .success(try await perform(method, parameters, session: session, context: context))
        } catch {
            return .failure(error)
        }
    }

    private func perform(
        _ method: String, _ parameters: [JSONValue], session: Session, context: [(String, JSONValue)]
    ) async throws(TrytonError) -> JSONValue {
        var merged = session.context.objectMembers ?? []
        merged.append(contentsOf: context)
        return try await rpc(method, parameters + [.object(merged)], authorization: session.authorization)
    }

    private func rpc(
        _ method: String, _ parameters: [JSONValue], authorization: String?
    ) async throws(TrytonError) -> JSONValue {
        let id = nextID
        nextID += 1
        let body = JSONValue.object([
            ("id", .number(String(id))), ("method", .string(method)), ("params", .array(parameters)),
        ])
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"), ("Accept", "application/json"),
        ]
        if let authorization { headers.append(("Authorization", authorization)) }
        let request = HTTPRequest(
            method: "POST", url: endpoint.rpcURL, headers: headers, body: body.jsonBytes(), timeout: endpoint.timeout,
            connectTimeout: endpoint.connectTimeout)
        let response: HTTPResponse
        do {
            response = try await http.execute(request)
        } catch {
            throw TrytonError(.transport(error), method: method, target: target)
        }
        return try Self.decode(response, method: method, target: target)
    }

    /// The `result` of a JSON-RPC reply, or the error it carries.
    static func decode(_ response: HTTPResponse, method: String, target: String) throws(TrytonError) -> JSONValue {
        let snippet = String(decoding: response.body.prefix(200), as: UTF8.self)
        switch response.status {
        case 200:
            break
        case 429, 500..<600:
            throw TrytonError(.server(status: response.status, message: snippet), method: method, target: target)
        default:
            throw TrytonError(.protocolError(status: response.status, message: snippet), method: method, target: target)
        }
        let reply: JSONValue
        do {
            reply = try JSONValue.parse(response.body)
        } catch {
            throw TrytonError(
                .protocolError(status: 200, message: "not JSON: \(error.description)"), method: method, target: target)
        }
        if let error = reply["error"], !error.isNull {
            throw TrytonError(rpcError(error), method: method, target: target)
        }
        guard let result = reply["result"] else {
            throw TrytonError(
                .protocolError(status: 200, message: "reply has neither result nor error"), method: method,
                target: target)
        }
        return result
    }

    /// Tryton sends `[type, args]` for its own exceptions and `[message, traceback]` for unexpected ones.
    static func rpcError(_ error: JSONValue) -> TrytonError.Kind {
        let type = error[0]?.stringValue ?? "error"
        let arguments = error[1] ?? .null
        switch type {
        case "UserError":
            return .user(type: type, message: arguments[0]?.scalarText ?? "", detail: arguments[1]?.scalarText ?? "")
        case "UserWarning":
            return .user(type: type, message: arguments[1]?.scalarText ?? "", detail: arguments[2]?.scalarText ?? "")
        case "ConcurrencyException", "RateLimitException", "LoginException":
            return .server(status: 200, message: "\(type): \(arguments[0]?.scalarText ?? arguments.scalarText ?? "")")
        default:
            // An unexpected exception: the message is the first element, the traceback (not logged) the second.
            return .server(status: 200, message: String(type.prefix(300)))
        }
    }

    private static func isExpiredSession(_ error: TrytonError) -> Bool {
        if case .protocolError(let status, _) = error.kind { return status == 401 }
        return false
    }

    private func ids(_ result: JSONValue, method: String) throws(TrytonError) -> [Int] {
        guard let items = result.arrayItems else {
            throw TrytonError(
                .protocolError(status: 200, message: "expected a list of ids, got \(result.typeName)"), method: method,
                target: target)
        }
        var ids: [Int] = []
        for item in items {
            guard let text = item.scalarText, let id = Int(text) else {
                throw TrytonError(
                    .protocolError(status: 200, message: "expected an id, got \(item.typeName)"), method: method,
                    target: target)
            }
            ids.append(id)
        }
        return ids
    }

    private func records(_ result: JSONValue, method: String) throws(TrytonError) -> [JSONValue] {
        guard let items = result.arrayItems else {
            throw TrytonError(
                .protocolError(status: 200, message: "expected a list of records, got \(result.typeName)"),
                method: method, target: target)
        }
        return items
    }
}
