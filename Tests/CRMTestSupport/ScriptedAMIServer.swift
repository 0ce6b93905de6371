import Foundation
import Synchronization

/// A scripted Asterisk Manager Interface peer (Asterisk itself is not in Debian): listens on a free 127.0.0.1 port,
/// greets like Asterisk, checks the `Action: Login` frame's `Username`/`Secret`, answers `Response: Success` (or
/// `Error`, then hangs up), answers an `Action: CoreShowChannels` that follows the login with one `CoreShowChannel` event
/// per call in `activeCalls[n]` (Linkedids) and `CoreShowChannelsComplete`, then writes `scripts[n]` (recorded AMI event
/// frames) on the n-th accepted connection and closes it, so a client must reconnect to receive the next script. Runs
/// on its own thread; stop by ``stop()``.
public final class ScriptedAMIServer: Sendable {
    public let port: Int
    private let listener: Int32
    private let state = Mutex<State>(State())

    struct State {
        var stopped = false
        var logins: [(username: String, accepted: Bool)] = []
        var scriptsSent = 0
        var channelListsSent = 0
    }

    public init(username: String, secret: String, scripts: [String], activeCalls: [[String]] = []) throws {
        port = try freePort()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket() failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 4) == 0 else {
            close(fd)
            throw TestSetupError("cannot listen on 127.0.0.1:\(port)")
        }
        listener = fd
        let thread = Thread { [self] in
            serve(username: username, secret: secret, scripts: scripts, activeCalls: activeCalls)
        }
        thread.name = "scripted-ami"
        thread.start()
    }

    deinit { stop() }

    /// Login attempts so far (username, accepted).
    public var logins: [(username: String, accepted: Bool)] { state.withLock { $0.logins } }
    /// Scripts written completely so far.
    public var scriptsSent: Int { state.withLock { $0.scriptsSent } }
    /// `CoreShowChannels` actions answered so far.
    public var channelListsSent: Int { state.withLock { $0.channelListsSent } }

    public func stop() {
        let first = state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        if first {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func serve(username: String, secret: String, scripts: [String], activeCalls: [[String]]) {
        var next = 0
        while !stopped {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 100) <= 0 { continue }
            let client = accept(listener, nil, nil)
            if client < 0 { continue }
            let script = next < scripts.count ? scripts[next] : ""
            let active = next < activeCalls.count ? activeCalls[next] : []
            if converse(client, username: username, secret: secret, script: script, active: active) { next += 1 }
            close(client)
        }
    }

    /// One connection; true when the login succeeded and the script was written.
    private func converse(_ client: Int32, username: String, secret: String, script: String, active: [String]) -> Bool {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        write(client, "Asterisk Call Manager/5.0.1\r\n")
        guard let login = readFrame(client) else { return false }
        let fields = Self.fields(login)
        let accepted =
            fields["action"]?.lowercased() == "login" && fields["username"] == username && fields["secret"] == secret
        state.withLock { $0.logins.append((fields["username"] ?? "", accepted)) }
        let actionID = fields["actionid"] ?? ""
        guard accepted else {
            write(client, "Response: Error\r\nActionID: \(actionID)\r\nMessage: Authentication failed\r\n\r\n")
            return false
        }
        write(client, "Response: Success\r\nActionID: \(actionID)\r\nMessage: Authentication accepted\r\n\r\n")
        write(client, "Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n")
        var shortWait = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &shortWait, socklen_t(MemoryLayout<timeval>.size))
        if let action = readFrame(client).map(Self.fields), action["action"]?.lowercased() == "coreshowchannels" {
            let id = action["actionid"] ?? ""
            write(
                client,
                "Response: Success\r\nActionID: \(id)\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n")
            for call in active {
                write(
                    client,
                    "Event: CoreShowChannel\r\nActionID: \(id)\r\nChannel: PJSIP/trunk-\(call)\r\nChannelState: 6\r\nUniqueid: \(call)\r\nLinkedid: \(call)\r\n\r\n"
                )
            }
            write(
                client,
                "Event: CoreShowChannelsComplete\r\nActionID: \(id)\r\nEventList: Complete\r\nListItems: \(active.count)\r\n\r\n"
            )
            state.withLock { $0.channelListsSent += 1 }
        }
        write(client, script)
        state.withLock { $0.scriptsSent += 1 }
        usleep(100_000)
        return true
    }

    private func write(_ client: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    private func readFrame(_ client: Int32) -> String? {
        var data: [UInt8] = []
        var byte: UInt8 = 0
        while data.count < 8192 {
            if recv(client, &byte, 1, 0) != 1 { return nil }
            data.append(byte)
            if data.count >= 4 && data.suffix(4) == [13, 10, 13, 10] { return String(decoding: data, as: UTF8.self) }
        }
        return nil
    }

    static func fields(_ frame: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in frame.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] =
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }
}
