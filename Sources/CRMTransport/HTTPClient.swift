// CRMTransport: crmhub's outbound transports over libcurl (the only module that imports CCurl). Transfers run on
// dedicated threads (``CurlWorkers``), never on Swift's cooperative pool.

import CCurl
import Foundation

/// How an HTTPS request trusts the server and proves its own identity. Every path is a PEM file.
public struct HTTPTLSOptions: Sendable, Hashable {
    /// Trusted CAs (a private CA or a self-signed server); the system's store when nil.
    public var caFile: String?
    /// The client certificate presented to servers that ask for one (mutual TLS); none when nil.
    public var certificateFile: String?
    /// The client certificate's private key (required with `certificateFile`).
    public var keyFile: String?
    /// The passphrase of an encrypted `keyFile`.
    public var keyPassword: String?

    public init(
        caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, keyPassword: String? = nil
    ) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.keyPassword = keyPassword
    }

    /// Applies the options to an easy handle (libcurl copies the strings).
    func apply(to handle: UnsafeMutableRawPointer) {
        if let caFile { ccurl_setopt_pointer(handle, CURLOPT_CAINFO, caFile) }
        if let certificateFile {
            ccurl_setopt_pointer(handle, CURLOPT_SSLCERT, certificateFile)
            ccurl_setopt_pointer(handle, CURLOPT_SSLCERTTYPE, "PEM")
        }
        if let keyFile {
            ccurl_setopt_pointer(handle, CURLOPT_SSLKEY, keyFile)
            ccurl_setopt_pointer(handle, CURLOPT_SSLKEYTYPE, "PEM")
        }
        if let keyPassword { ccurl_setopt_pointer(handle, CURLOPT_KEYPASSWD, keyPassword) }
    }
}

/// An HTTP request.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    /// Header lines in order (`name`, `value`); names are sent as given.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Whole-transfer timeout. Default 10 s.
    public var timeout: Duration
    /// Connection timeout. Default 3 s.
    public var connectTimeout: Duration
    /// CA file and client certificate for `https://`; the system's CAs and no client certificate when nil.
    public var tls: HTTPTLSOptions?

    public init(
        method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        timeout: Duration = .seconds(10), connectTimeout: Duration = .seconds(3), tls: HTTPTLSOptions? = nil
    ) {
        self.tls = tls
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }
}

/// An HTTP response.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header lines of the final response, names lower-cased.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }
}

/// A transfer that did not produce a response, with libcurl's reason.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case resolve, connect, timeout, tls, send, receive, protocolError, configuration, other
    }

    public var kind: Kind
    /// libcurl's `CURLcode`.
    public var curlCode: Int32
    public var message: String
    /// The URL without credentials or query (safe to log).
    public var target: String

    /// True when trying again later may succeed (the peer was unreachable, slow or hung up).
    public var isTransient: Bool {
        switch kind {
        case .resolve, .connect, .timeout, .send, .receive: true
        case .tls, .protocolError, .configuration, .other: false
        }
    }

    public var description: String { "\(kind.rawValue) error for \(target): \(message) (curl \(curlCode))" }
}

/// An HTTP(S) client over libcurl. Safe to share; at most `concurrency` transfers run at once.
public final class HTTPClient: Sendable {
    private let workers: CurlWorkers

    public init(concurrency: Int = 8) {
        workers = CurlWorkers(count: concurrency, name: "crmhub-http")
    }

    deinit { workers.shutdown() }

    /// Performs `request`. Throws ``TransportError`` when no response arrived; any HTTP status is a response.
    public func execute(_ request: HTTPRequest) async throws(TransportError) -> HTTPResponse {
        let result = await workers.run { handle in Self.perform(request, on: handle) }
        return try result.get()
    }

    private static func perform(
        _ request: HTTPRequest, on handle: UnsafeMutableRawPointer
    ) -> Result<HTTPResponse, TransportError> {
        let transfer = Transfer()
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for header in request.headers {
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        // libcurl adds "Expect: 100-continue" for larger bodies; targets rarely need the extra round trip.
        headerList = curl_slist_append(headerList, "Expect:")

        let code: CURLcode = request.url.withCString { url in
            request.method.withCString { method in
                request.body.withUnsafeBufferPointer { body in
                    ccurl_setopt_pointer(handle, CURLOPT_URL, url)
                    ccurl_setopt_pointer(handle, CURLOPT_CUSTOMREQUEST, method)
                    ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                    if verbose { ccurl_setopt_long(handle, CURLOPT_VERBOSE, 1) }
                    ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds(request.timeout))
                    ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(request.connectTimeout))
                    ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
                    ccurl_setopt_pointer(handle, CURLOPT_HTTPHEADER, headerList)
                    request.tls?.apply(to: handle)
                    if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) {
                        ccurl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
                        ccurl_setopt_pointer(
                            handle, CURLOPT_POSTFIELDS, body.baseAddress ?? UnsafePointer(bitPattern: 1))
                    }
                    if request.method == "HEAD" { ccurl_setopt_long(handle, CURLOPT_NOBODY, 1) }
                    ccurl_setopt_write_function(handle, collectBody)
                    ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
                    ccurl_setopt_header_function(handle, collectHeader)
                    ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
                    return curl_easy_perform(handle)
                }
            }
        }
        guard code == CURLE_OK else {
            return .failure(TransportError(code, target: redacted(request.url)))
        }
        var status = 0
        ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: transfer.headers, body: transfer.body))
    }

    /// The scheme, host, port and path of `url`, without user info or query.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<url>" }
        components.user = nil
        components.password = nil
        components.query = nil
        return components.string ?? "<url>"
    }
}

/// What one transfer collected; lives for the duration of `curl_easy_perform` on one thread.
private final class Transfer {
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
}

private let collectBody: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    data.withMemoryRebound(to: UInt8.self, capacity: length) {
        transfer.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
    }
    return length
}

private let collectHeader: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    let line = data.withMemoryRebound(to: UInt8.self, capacity: length) {
        String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
    }
    if line.hasPrefix("HTTP/") {
        transfer.headers = []  // a new response (after 100 Continue or a redirect): keep only the final one's headers
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        transfer.headers.append((name, value))
    }
    return length
}

/// `CRMHUB_CURL_VERBOSE=1` makes libcurl trace every transfer on standard error (for debugging a target).
private let verbose = ProcessInfo.processInfo.environment["CRMHUB_CURL_VERBOSE"] == "1"

private func milliseconds(_ duration: Duration) -> Int {
    Int(duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000)
}

extension TransportError {
    init(_ code: CURLcode, target: String) {
        let kind: Kind
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .resolve
        case CURLE_COULDNT_CONNECT: kind = .connect
        case CURLE_OPERATION_TIMEDOUT: kind = .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_CRL_BADFILE:
            kind = .tls
        case CURLE_SEND_ERROR: kind = .send
        case CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE: kind = .receive
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: kind = .configuration
        case CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM: kind = .protocolError
        default: kind = .other
        }
        self.init(
            kind: kind, curlCode: Int32(code.rawValue), message: String(cString: curl_easy_strerror(code)),
            target: target)
    }
}
