import CRMConnector
import CRMIngress
import CRMTestSupport
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The ingress server's connection-level bounds against real sockets on loopback: slow clients (slowloris), oversized
/// heads and too many connections.
@Suite("ingress bounds under slow and abusive clients", .serialized, .timeLimit(.minutes(1)))
struct IngressBoundsTests {
    let logger = Logger(label: "test")

    /// Runs an ingress server with one endpoint (`POST /in`, answers 200 `ok`) bounded by `limits` and calls `body`
    /// with its port; stops it afterwards.
    func withIngress(
        _ limits: IngressServer.Limits, _ body: @Sendable (Int) async throws -> Void
    ) async throws {
        let endpoint = IngressEndpoint(connector: "test", path: "/in", maxBodyBytes: 1_024) { _ in
            IngressResponse(status: .ok, body: Array("ok".utf8))
        }
        let port = Mutex<Int?>(nil)
        let app = IngressServer.makeApplication(
            host: "127.0.0.1", port: 0, endpoints: [endpoint], limits: limits, logger: logger
        ) { bound in port.withLock { $0 = bound } }
        let group = ServiceGroup(services: [app], logger: logger)
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let listening = await eventually(timeout: .seconds(10)) { port.withLock { $0 } != nil }
        try #require(listening, "the ingress server did not start")
        try await body(try #require(port.withLock { $0 }))
        await group.triggerGracefulShutdown()
        try await running.value
    }

    @Test(
        "200 slow clients sending their headers byte by byte are disconnected by read_timeout while a normal request is answered promptly"
    )
    func slowlorisIsDisconnectedAndOthersAreServed() async throws {
        var limits = IngressServer.Limits()
        limits.readTimeout = .seconds(2)
        limits.idleTimeout = .seconds(60)
        try await withIngress(limits) { port in
            let slowClients = 200
            let attack: Task<[Duration?], any Error> = Task {
                try await offPool { try Self.slowloris(port: port, clients: slowClients, for: .seconds(6)) }
            }
            // While the slow clients hold their connections, a normal client is answered within a bound.
            try await Task.sleep(for: .seconds(1))
            for _ in 0..<3 {
                let started = ContinuousClock.now
                let answer = try await offPool {
                    try RawConnection(port: port).exchange(
                        "POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
                        timeout: .seconds(8))
                }
                let took = started.duration(to: .now)
                #expect(answer.hasPrefix("HTTP/1.1 200"), "answer during the attack: \(answer.prefix(200))")
                // Bounds with room for a loaded CI machine: without the read timeout the slow clients would hold
                // their connections for as long as they like (the test fails then: none is closed).
                #expect(took < .seconds(5), "a normal request took \(took) during the attack")
                try await Task.sleep(for: .milliseconds(500))
            }
            let closedAfter = try await attack.value
            let closed = closedAfter.compactMap { $0 }
            #expect(closed.count == slowClients, "\(slowClients - closed.count) slow connections stayed open")
            // Closed by the 2 s read timeout (counted from the first byte), not by the 60 s idle timeout.
            #expect(closed.allSatisfy { $0 < .seconds(10) }, "latest close after \(closed.max() ?? .zero)")
        }
    }

    @Test("a request head larger than max_header_bytes is answered 431")
    func oversizedHeadIs431() async throws {
        var limits = IngressServer.Limits()
        limits.maxHeaderBytes = 4_096
        try await withIngress(limits) { port in
            let padding = String(repeating: "a", count: 8_000)
            let answer = try await offPool {
                try RawConnection(port: port).exchange(
                    "POST /in HTTP/1.1\r\nHost: x\r\nX-Pad: \(padding)\r\nContent-Length: 2\r\n\r\nhi",
                    timeout: .seconds(5))
            }
            #expect(answer.hasPrefix("HTTP/1.1 431"), "answer: \(answer.prefix(200))")
            let small = try await offPool {
                try RawConnection(port: port).exchange(
                    "POST /in HTTP/1.1\r\nHost: x\r\nX-Pad: short\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
                    timeout: .seconds(5))
            }
            #expect(small.hasPrefix("HTTP/1.1 200"), "answer: \(small.prefix(200))")
        }
    }

    @Test("a connection beyond max_connections is answered 503 with Retry-After and closed")
    func connectionLimit() async throws {
        var limits = IngressServer.Limits()
        limits.maxConnections = 3
        try await withIngress(limits) { port in
            let held = try (0..<3).map { _ in try RawConnection(port: port) }
            try await Task.sleep(for: .milliseconds(300))
            let answer = try await offPool { try RawConnection(port: port).exchange("", timeout: .seconds(5)) }
            #expect(answer.hasPrefix("HTTP/1.1 503"), "answer: \(answer.prefix(200))")
            #expect(answer.contains("Retry-After: 1"))
            for connection in held { connection.close() }
            try await Task.sleep(for: .milliseconds(300))
            let later = try await offPool {
                try RawConnection(port: port).exchange(
                    "POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
                    timeout: .seconds(5))
            }
            #expect(later.hasPrefix("HTTP/1.1 200"), "once connections closed: \(later.prefix(200))")
        }
    }

    /// Opens `clients` connections and sends each one more byte of a never-ending request head every 100 ms, for at
    /// most `duration`. Returns, per connection, when after its first byte the server closed it (nil: still open).
    static func slowloris(port: Int, clients: Int, for duration: Duration) throws -> [Duration?] {
        let head =
            Array("POST /in HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 4_000)
        let connections = try (0..<clients).map { _ in try RawConnection(port: port) }
        defer { for connection in connections { connection.close() } }
        let clock = ContinuousClock()
        let started = clock.now
        var closedAfter = [Duration?](repeating: nil, count: clients)
        var sent = 0
        while started.duration(to: clock.now) < duration, closedAfter.contains(where: { $0 == nil }) {
            for (index, connection) in connections.enumerated() where closedAfter[index] == nil {
                if connection.isClosedByPeer || !connection.send([head[sent % head.count]]) {
                    closedAfter[index] = started.duration(to: clock.now)
                }
            }
            sent += 1
            usleep(100_000)
        }
        return closedAfter
    }
}

/// A plain TCP connection to 127.0.0.1, for clients that misbehave on purpose.
final class RawConnection: Sendable {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestSetupError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Glibc.close(descriptor)
            throw TestSetupError("cannot connect to 127.0.0.1:\(port): errno \(errno)")
        }
    }

    deinit { Glibc.close(descriptor) }

    /// Ends the connection (the descriptor is released with the object).
    func close() { Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }

    /// Sends `bytes`; false when the connection is gone.
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// True when the server closed or reset the connection.
    var isClosedByPeer: Bool {
        var byte: UInt8 = 0
        let read = recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Sends `request` and reads until the server closes the connection, a whole head arrived with the body its
    /// Content-Length announces, or `timeout` passes.
    func exchange(_ request: String, timeout: Duration) throws -> String {
        if !request.isEmpty { guard send(Array(request.utf8)) else { throw TestSetupError("send failed") } }
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let read = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if read <= 0 { break }
            received += buffer[0..<read]
            let text = String(decoding: received, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let length =
                    text[..<end.lowerBound].split(separator: "\r\n").first {
                        $0.lowercased().hasPrefix("content-length:")
                    }.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length {
                    break
                }
            }
        }
        return String(decoding: received, as: UTF8.self)
    }
}
