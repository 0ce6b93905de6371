import CCurl
import Foundation

/// A drop folder on an SFTP server, over libcurl (libssh2) on dedicated threads.
///
/// Authentication is by private key only, and the server must present the host key pinned in
/// ``SFTPConfiguration/hostKeySHA256`` (unless ``SFTPConfiguration/insecureSkipHostKeyCheck`` is set). Files stream
/// between the server and local files, so memory stays constant whatever their size.
///
/// ``publish(_:as:)`` uploads `NAME.part` and renames it to `NAME` in the same SSH session, after removing an
/// existing `NAME` (SFTP v3 servers such as OpenSSH refuse to rename over a file), so readers never see a partial
/// file; for a moment between the removal and the rename, a replaced file is absent.
///
/// Errors are ``TransportError``s: a refused or lost connection is transient (`connect`, `timeout`, `send`,
/// `receive`); a host key that does not match the pin is `tls`; a refused key, a missing remote folder or a denied
/// permission is `configuration`; a missing file is `other`.
public final class SFTPFileDrop: FileDrop {
    public let configuration: SFTPConfiguration
    private let workers: CurlWorkers

    /// Checks the configuration (key file readable, host key pin well formed or explicitly skipped); connects lazily.
    public init(_ configuration: SFTPConfiguration) throws(TransportError) {
        try configuration.validate()
        self.configuration = configuration
        workers = CurlWorkers(count: configuration.connections, name: "crmhub-sftp")
    }

    deinit { workers.shutdown() }

    public var description: String { configuration.label }

    public func list(matching pattern: String) async throws(TransportError) -> [DroppedFile] {
        let request = SFTPRequest(
            path: configuration.remoteDirectory == "/" ? "/" : configuration.remoteDirectory + "/", body: .listing)
        let listing = try await perform(request, operation: "list", notFoundIsFolder: true)
        let files = SFTPListing.regularFiles(in: String(decoding: listing, as: UTF8.self))
        return files.filter { !$0.name.hasSuffix(".part") && globMatches(pattern, $0.name) }.sorted {
            $0.name < $1.name
        }
    }

    public func fetch(_ name: String, to destination: URL) async throws(TransportError) {
        try checkName(name)
        let folder = destination.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(destination.lastPathComponent).\(UUID().uuidString).fetch")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw failure(.other, "cannot write \(temporary.path): \(String(cString: strerror(errno)))")
        }
        var closed = false
        defer {
            if !closed { close(descriptor) }
            unlink(temporary.path)  // after the rename below there is nothing left to remove
        }
        try await perform(SFTPRequest(path: remotePath(name), body: .download(descriptor)), operation: "fetch \(name)")
        closed = true
        guard close(descriptor) == 0 else {
            throw failure(.other, "cannot write \(temporary.path): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary.path, destination.path) == 0 else {
            throw failure(
                .other, "cannot rename the fetched \(name) to \(destination.path): \(String(cString: strerror(errno)))")
        }
    }

    public func publish(_ source: URL, as name: String) async throws(TransportError) {
        try checkName(name)
        let descriptor = open(source.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw failure(.other, "cannot read \(source.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw failure(.other, "cannot read \(source.path): \(String(cString: strerror(errno)))")
        }
        let part = remotePath(name + ".part")
        let target = remotePath(name)
        var request = SFTPRequest(path: part, body: .upload(descriptor, size: Int64(status.st_size)))
        request.postQuote = ["*rm \(quoted(target))", "rename \(quoted(part)) \(quoted(target))"]
        try await perform(request, operation: "publish \(name)", notFoundIsFolder: true)
    }

    public func move(_ name: String, into subfolder: String) async throws(TransportError) {
        try checkName(name)
        try checkName(subfolder)
        let source = remotePath(name)
        let folder = remotePath(subfolder)
        let target = folder + "/" + name
        var request = SFTPRequest(path: remotePath(""), body: .none)
        request.quote = ["*mkdir \(quoted(folder))", "rename \(quoted(source)) \(quoted(target))"]
        let firstError: TransportError
        do {
            try await perform(request, operation: "move \(name) into \(subfolder)/")
            return
        } catch {
            firstError = error
        }
        // Either the source is gone or the target exists (SFTP v3 renames never replace). Replace the target only
        // when the source is still there, so a repeated move never deletes the copy an earlier one made.
        guard firstError.curlCode == quoteErrorCode else { throw firstError }
        guard try await exists(name) else {
            throw failure(.other, "cannot move \(name) into \(subfolder)/: no such file", curlCode: firstError.curlCode)
        }
        request.quote = ["*rm \(quoted(target))", "rename \(quoted(source)) \(quoted(target))"]
        try await perform(request, operation: "move \(name) into \(subfolder)/")
    }

    public func exists(_ name: String) async throws(TransportError) -> Bool {
        try checkName(name)
        do {
            try await perform(SFTPRequest(path: remotePath(name), body: .none), operation: "stat \(name)")
            return true
        } catch {
            if error.curlCode == notFoundCode { return false }
            throw error
        }
    }

    // MARK: - Paths

    /// `directory/name`, as used in quote commands and (percent-encoded) in URLs.
    private func remotePath(_ name: String) -> String {
        let directory = configuration.remoteDirectory
        return directory == "/" ? "/" + name : directory + "/" + name
    }

    /// A path as one argument of a libcurl SFTP quote command: double-quoted, `"` and `\` escaped.
    private func quoted(_ path: String) -> String {
        var escaped = ""
        for character in path {
            if character == "\"" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return "\"\(escaped)\""
    }

    /// Names are single path segments without control characters (they end up in one-line quote commands).
    private func checkName(_ name: String) throws(TransportError) {
        let hasControl = name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !hasControl else {
            throw failure(.configuration, "invalid file name \(name.debugDescription): one path segment expected")
        }
    }

    private func failure(_ kind: TransportError.Kind, _ message: String, curlCode: Int32 = 0) -> TransportError {
        TransportError(kind: kind, curlCode: curlCode, message: message, target: description)
    }

    // MARK: - Transfers

    /// Runs `request` on a worker thread. `notFoundIsFolder`: a missing path means the drop folder itself is missing
    /// (a listing, an upload), which is a configuration error rather than a missing file.
    @discardableResult
    private func perform(
        _ request: SFTPRequest, operation: String, notFoundIsFolder: Bool = false
    ) async throws(TransportError) -> [UInt8] {
        let configuration = configuration
        let url = url(for: request.path)
        let result = await workers.run { handle in
            SFTPTransfer.perform(request, url: url, configuration: configuration, on: handle)
        }
        switch result {
        case .success(let bytes): return bytes
        case .failure(let failure):
            if notFoundIsFolder && failure.code == CURLE_REMOTE_FILE_NOT_FOUND {
                throw TransportError(
                    kind: .configuration, curlCode: notFoundCode,
                    message: "\(operation): the folder \(configuration.remoteDirectory) does not exist on the server",
                    target: description)
            }
            throw failure.error(operation: operation, configuration: configuration)
        }
    }

    private func url(for path: String) -> String {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        let user =
            configuration.user.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? configuration.user
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: ";")
        let encodedPath = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
        return "sftp://\(user)@\(host):\(configuration.port)\(encodedPath)"
    }
}

/// One SFTP operation: a path, what to do with its content, and quote commands run before or after.
struct SFTPRequest: Sendable {
    enum Body: Sendable {
        /// Quote commands only (or a stat of `path`: fails with `CURLE_REMOTE_FILE_NOT_FOUND` when missing).
        case none
        /// The long listing of the folder `path` (ending in `/`), collected in memory.
        case listing
        /// `path` written to the open file descriptor.
        case download(Int32)
        /// The open file descriptor uploaded to `path`.
        case upload(Int32, size: Int64)
    }

    var path: String
    var body: Body
    var quote: [String] = []
    var postQuote: [String] = []
}

/// Why a transfer failed, before it is worded for the caller.
struct SFTPFailure: Error {
    var code: CURLcode
    /// libcurl's error buffer (more precise than `curl_easy_strerror`).
    var detail: String
    /// errno of a local read or write that aborted the transfer.
    var localErrno: Int32

    func error(operation: String, configuration: SFTPConfiguration) -> TransportError {
        let server = "\(configuration.host):\(configuration.port)"
        let kind: TransportError.Kind
        let message: String
        switch code {
        case CURLE_PEER_FAILED_VERIFICATION:
            kind = .tls
            message =
                "host key of \(server) does not match the pinned SHA256:\(configuration.hostKeyBase64 ?? "") "
                + "(server presented SHA256:\(presentedFingerprint ?? "?")); refusing to connect"
        case CURLE_LOGIN_DENIED:
            kind = .configuration
            message =
                "\(server) refused public-key authentication as \(configuration.user) (is the key in its authorized_keys?)"
        case CURLE_REMOTE_ACCESS_DENIED:
            kind = .configuration
            message = "\(operation): permission denied or folder missing: \(detail)"
        case CURLE_REMOTE_FILE_NOT_FOUND:
            kind = .other
            message = "\(operation): no such file or folder"
        case CURLE_SSH:
            // libssh2 reports a session the server dropped or reset as a generic SSH error: worth retrying.
            kind = .receive
            message = "\(operation): \(detail)"
        case CURLE_READ_ERROR, CURLE_WRITE_ERROR, CURLE_ABORTED_BY_CALLBACK:
            kind = .other
            let reason = localErrno != 0 ? String(cString: strerror(localErrno)) : detail
            message = "\(operation): local file: \(reason)"
        case CURLE_QUOTE_ERROR, CURLE_UPLOAD_FAILED:
            kind = .other
            message = "\(operation): \(detail)"
        default:
            kind = TransportError(code, target: "").kind
            message = "\(operation): \(detail)"
        }
        return TransportError(kind: kind, curlCode: Int32(code.rawValue), message: message, target: configuration.label)
    }

    /// The fingerprint libcurl reports in `… mismatch sha256 fingerprint. Remote FP is not equal to PIN`.
    private var presentedFingerprint: String? {
        guard let start = detail.range(of: "Remote "),
            let end = detail.range(of: " is not equal", range: start.upperBound..<detail.endIndex)
        else { return nil }
        var fingerprint = String(detail[start.upperBound..<end.lowerBound])
        while fingerprint.hasSuffix("=") { fingerprint.removeLast() }
        return fingerprint
    }
}

/// Runs one ``SFTPRequest`` on an easy handle, on a ``CurlWorkers`` thread.
enum SFTPTransfer {
    static func perform(
        _ request: SFTPRequest, url: String, configuration: SFTPConfiguration, on handle: UnsafeMutableRawPointer
    ) -> Result<[UInt8], SFTPFailure> {
        let state = SFTPTransferState()
        let context = Unmanaged.passUnretained(state).toOpaque()
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }
        var quote: UnsafeMutablePointer<curl_slist>?
        var postQuote: UnsafeMutablePointer<curl_slist>?
        defer {
            curl_slist_free_all(quote)
            curl_slist_free_all(postQuote)
        }
        for command in request.quote { quote = curl_slist_append(quote, command) }
        for command in request.postQuote { postQuote = curl_slist_append(postQuote, command) }

        setString(handle, CURLOPT_URL, url)
        setString(handle, CURLOPT_PROTOCOLS_STR, "sftp")
        ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        if verboseSFTP { ccurl_setopt_long(handle, CURLOPT_VERBOSE, 1) }
        ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        ccurl_setopt_long(handle, CURLOPT_SSH_AUTH_TYPES, Int(CURLSSH_AUTH_PUBLICKEY))
        setString(handle, CURLOPT_SSH_PRIVATE_KEYFILE, configuration.privateKey)
        if let publicKey = configuration.publicKey { setString(handle, CURLOPT_SSH_PUBLIC_KEYFILE, publicKey) }
        if let passphrase = configuration.keyPassphrase { setString(handle, CURLOPT_KEYPASSWD, passphrase) }
        if let pin = configuration.hostKeyBase64 { setString(handle, CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, pin) }
        ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(configuration.connectTimeout))
        ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds(configuration.timeout))
        ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
        ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, milliseconds(configuration.stallTimeout) / 1000))
        if quote != nil { ccurl_setopt_pointer(handle, CURLOPT_QUOTE, quote) }
        if postQuote != nil { ccurl_setopt_pointer(handle, CURLOPT_POSTQUOTE, postQuote) }
        ccurl_setopt_write_function(handle, writeToState)
        ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)

        switch request.body {
        case .none:
            ccurl_setopt_long(handle, CURLOPT_NOBODY, 1)
        case .listing:
            state.collect = true
        case .download(let descriptor):
            state.descriptor = descriptor
        case .upload(let descriptor, let size):
            state.descriptor = descriptor
            ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1)
            ccurl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(size))
            ccurl_setopt_read_function(handle, readFromState)
            ccurl_setopt_pointer(handle, CURLOPT_READDATA, context)
        }

        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            var detail = String(cString: errorBuffer)
            if detail.isEmpty { detail = String(cString: curl_easy_strerror(code)) }
            return .failure(SFTPFailure(code: code, detail: detail, localErrno: state.localErrno))
        }
        return .success(state.collected)
    }

    private static func setString(_ handle: UnsafeMutableRawPointer, _ option: CURLoption, _ value: String) {
        _ = value.withCString { ccurl_setopt_pointer(handle, option, $0) }  // libcurl copies string options
    }
}

/// What one transfer reads from or writes to; lives for the duration of `curl_easy_perform` on one thread.
private final class SFTPTransferState {
    var descriptor: Int32 = -1
    var collect = false
    var collected: [UInt8] = []
    var localErrno: Int32 = 0
}

private let quoteErrorCode = Int32(CURLE_QUOTE_ERROR.rawValue)
private let notFoundCode = Int32(CURLE_REMOTE_FILE_NOT_FOUND.rawValue)

/// Listings larger than this are refused (a folder with hundreds of thousands of files is a misconfiguration).
private let maximumListingBytes = 64 << 20

private let writeToState: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    guard let data, let context else { return 0 }
    let state = Unmanaged<SFTPTransferState>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    if state.collect {
        guard state.collected.count + length <= maximumListingBytes else { return 0 }
        data.withMemoryRebound(to: UInt8.self, capacity: length) {
            state.collected.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
        }
        return length
    }
    var written = 0
    while written < length {
        let result = write(state.descriptor, data + written, length - written)
        if result < 0 {
            if errno == EINTR { continue }
            state.localErrno = errno
            return 0
        }
        written += result
    }
    return length
}

private let readFromState: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    buffer, size, count, context in
    guard let buffer, let context else { return Int(CURL_READFUNC_ABORT) }
    let state = Unmanaged<SFTPTransferState>.fromOpaque(context).takeUnretainedValue()
    while true {
        let result = read(state.descriptor, buffer, size * count)
        if result >= 0 { return result }
        if errno == EINTR { continue }
        state.localErrno = errno
        return Int(CURL_READFUNC_ABORT)
    }
}

/// `CRMHUB_CURL_VERBOSE=1` makes libcurl trace every transfer on standard error (for debugging a server).
private let verboseSFTP = ProcessInfo.processInfo.environment["CRMHUB_CURL_VERBOSE"] == "1"

private func milliseconds(_ duration: Duration) -> Int {
    Int(duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000)
}
