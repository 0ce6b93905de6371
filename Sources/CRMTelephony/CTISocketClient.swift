import CRMDelivery
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP client for a CTI event feed that keeps reconnecting: it runs on its own thread (blocking socket calls never
/// touch Swift's cooperative pool), sends `greeting` after each connect (the AMI login), and delivers what it reads,
/// stamped with the instant it arrived, as an `AsyncStream`.
///
/// Reconnects with exponential backoff (`initialBackoff` doubling to `maxBackoff`); the backoff resets once a
/// connection delivered data. Ending the stream's iteration (or task cancellation) stops the thread.
public final class CTISocketClient: Sendable {
    /// What the connection delivered.
    public enum Event: Sendable {
        /// A new connection is up (reset any framing state).
        case connected
        /// Bytes read, with the instant they were read.
        case data([UInt8], ContinuousClock.Instant)
        /// The connection failed or closed; the client will retry after `retryIn`.
        case disconnected(reason: String, retryIn: Duration)
    }

    public let host: String
    public let port: Int
    private let greeting: [UInt8]
    private let backoff: Backoff
    private let connectTimeoutSeconds: Int
    private let state = Mutex<State>(State())

    struct State {
        var stopped = false
        var reconnectRequested = false
    }

    public init(
        host: String, port: Int, greeting: [UInt8] = [],
        backoff: Backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5)),
        connectTimeoutSeconds: Int = 5
    ) {
        self.host = host
        self.port = port
        self.greeting = greeting
        self.backoff = backoff
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }

    /// Starts the connection thread and returns what it reads. Call once.
    public func events() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self)
        continuation.onTermination = { [self] _ in stop() }
        let thread = Thread { [self] in run(continuation) }
        thread.name = "cti:\(port)"  // Linux keeps 15 bytes of a thread name
        thread.start()
        return stream
    }

    /// Stops the thread (within ~200 ms) and closes the connection.
    public func stop() {
        state.withLock { $0.stopped = true }
    }

    /// Drops the current connection and reconnects (after a framing error the stream cannot be resynchronised).
    public func reconnect() {
        state.withLock { $0.reconnectRequested = true }
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func run(_ continuation: AsyncStream<Event>.Continuation) {
        var failures = 0
        while !isStopped {
            let outcome = session(continuation)
            if isStopped { break }
            failures = outcome.deliveredData ? 1 : failures + 1
            let wait = backoff.delay(afterAttempt: failures)
            continuation.yield(.disconnected(reason: outcome.reason, retryIn: wait))
            sleepUnlessStopped(wait)
        }
        continuation.finish()
    }

    private func sleepUnlessStopped(_ duration: Duration) {
        let deadline = ContinuousClock.now + duration
        while !isStopped && ContinuousClock.now < deadline {
            usleep(20_000)
        }
    }

    /// One connection: connect, greet, read until it ends. Returns why it ended.
    private func session(_ continuation: AsyncStream<Event>.Continuation) -> (reason: String, deliveredData: Bool) {
        let fd: Int32
        switch connectSocket() {
        case .success(let socket): fd = socket
        case .failure(let reason): return (reason, false)
        }
        defer { close(fd) }
        state.withLock { $0.reconnectRequested = false }
        if !greeting.isEmpty, let failure = sendAll(fd, greeting) { return (failure, false) }
        continuation.yield(.connected)
        var delivered = false
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let flags = state.withLock { ($0.stopped, $0.reconnectRequested) }
            if flags.0 { return ("stopped", delivered) }
            if flags.1 { return ("reconnect requested", delivered) }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 200)
            if ready == 0 { continue }
            if ready < 0 {
                if errno == EINTR { continue }
                return ("poll failed: errno \(errno)", delivered)
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            let arrived = ContinuousClock.now
            if count == 0 { return ("closed by peer", delivered) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return ("read failed: errno \(errno)", delivered)
            }
            delivered = true
            continuation.yield(.data(Array(buffer[0..<count]), arrived))
        }
    }

    private enum ConnectResult {
        case success(Int32)
        case failure(String)
    }

    private func connectSocket() -> ConnectResult {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            return .failure("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = 0
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let info = current {
            current = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd < 0 {
                lastError = errno
                continue
            }
            var timeout = timeval(tv_sec: connectTimeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return .success(fd) }
            lastError = errno
            close(fd)
        }
        return .failure("cannot connect to \(host):\(port): \(String(cString: strerror(lastError)))")
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> String? {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                return "write failed: \(String(cString: strerror(errno)))"
            }
            offset += sent
        }
        return nil
    }
}
