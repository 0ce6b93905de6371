import HTTPTypes
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Synchronization

/// Bounds one ingress connection, in the channel pipeline after HTTP decoding: it counts the server's open
/// connections (one beyond ``IngressServer/Limits/maxConnections`` is answered 503 with `Retry-After` and closed),
/// and closes a connection that has not delivered a whole request within ``IngressServer/Limits/readTimeout`` of the
/// request's first byte, as slow-header and slow-body clients (slowloris) never do. A request head larger than the
/// decoder's limits is answered 431. Closed connections are counted in
/// `crmhub_ingress_connections_closed_total{reason}`.
///
/// The first bytes of a request arrive before any HTTP part is decoded, so the guard puts a small watcher at the
/// front of the pipeline that starts the deadline; the guard itself ends it when the request's last part arrives.
final class IngressConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The server's open connections.
    final class Counter: Sendable {
        let open = Atomic<Int>(0)
        init() {}
    }

    /// What the guard and its watcher share; used on the channel's event loop only.
    final class ConnectionState {
        var deadline: Scheduled<Void>?
        /// A request has been fully read and its answer is not written yet: no deadline runs meanwhile.
        var answering = false
        var counted = false
    }

    private let limits: IngressServer.Limits
    private let connections: Counter
    private let state = ConnectionState()

    init(limits: IngressServer.Limits, connections: Counter) {
        self.limits = limits
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let watcher = FirstByteWatcher(state: state, limits: limits, connections: connections)
        do {
            try context.pipeline.syncOperations.addHandler(watcher, position: .first)
        } catch {
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            state.deadline?.cancel()
            state.deadline = nil
            state.answering = true
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { state.answering = false }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        state.deadline?.cancel()
        let tooLarge: Bool
        switch parserError {
        case .headerOverflow: tooLarge = true
        default: tooLarge = false
        }
        let status: HTTPResponse.Status = tooLarge ? .requestHeaderFieldsTooLarge : .badRequest
        Metrics.Counter(
            label: "crmhub_ingress_connections_closed_total",
            dimensions: [("reason", tooLarge ? "header_too_large" : "bad_request")]
        ).increment()
        let head = HTTPResponse(status: status, headerFields: [.contentLength: "0", .connection: "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Sits at the front of the pipeline and sees raw bytes: counts the connection, starts the read deadline when a
/// request's first byte arrives.
final class FirstByteWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let state: IngressConnectionGuard.ConnectionState
    private let limits: IngressServer.Limits
    private let connections: IngressConnectionGuard.Counter

    init(
        state: IngressConnectionGuard.ConnectionState, limits: IngressServer.Limits,
        connections: IngressConnectionGuard.Counter
    ) {
        self.state = state
        self.limits = limits
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { opened(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        opened(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { closed() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if state.deadline == nil, !state.answering {
            let channel = context.channel
            state.deadline = context.eventLoop.scheduleTask(in: TimeAmount(limits.readTimeout)) {
                Metrics.Counter(
                    label: "crmhub_ingress_connections_closed_total", dimensions: [("reason", "read_timeout")]
                )
                .increment()
                channel.close(promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    private func opened(context: ChannelHandlerContext) {
        guard !state.counted else { return }
        state.counted = true
        guard connections.open.add(1, ordering: .relaxed).newValue > limits.maxConnections else { return }
        Metrics.Counter(
            label: "crmhub_ingress_connections_closed_total", dimensions: [("reason", "too_many_connections")]
        )
        .increment()
        let answer =
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        let channel = context.channel
        context.writeAndFlush(NIOAny(ByteBuffer(string: answer))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    private func closed() {
        guard state.counted else { return }
        state.counted = false
        state.deadline?.cancel()
        state.deadline = nil
        connections.open.subtract(1, ordering: .relaxed)
    }
}
