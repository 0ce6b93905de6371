// CRMIngress: the public-side HTTP server of source connectors. It serves the IngressEndpoints that connectors
// (web forms, webhooks, CTI events) hand to the runtime and knows none of them: it collects each body up to the
// endpoint's limit, calls the endpoint and writes its answer.

import CRMConnector
import HTTPTypes
import Hummingbird
import Logging

/// The ingress HTTP server (Hummingbird) for the endpoints of source connectors.
public enum IngressServer {
    /// The server application, listening on `host:port` (port 0 picks a free one; `onListening` gets the port).
    public static func makeApplication(
        host: String, port: Int, endpoints: [IngressEndpoint], logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(endpoints: endpoints, logger: logger),
            configuration: .init(address: .hostname(host, port: port), serverName: "crmhub-ingress"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// The router alone, for in-process tests: one `POST` route per endpoint.
    public static func makeRouter(endpoints: [IngressEndpoint], logger: Logger) -> Router<BasicRequestContext> {
        let router = Router()
        for endpoint in endpoints {
            router.post(RouterPath(endpoint.path)) { request, _ -> Response in
                let body: [UInt8]
                do {
                    body = Array(buffer: try await request.body.collect(upTo: endpoint.maxBodyBytes))
                } catch {
                    return response(
                        IngressReply.reject(
                            .contentTooLarge, "the body is larger than \(endpoint.maxBodyBytes) bytes",
                            reason: "too_large",
                            connector: endpoint.connector, logger: logger))
                }
                return response(await endpoint.handle(IngressRequest(headers: request.headers, body: body)))
            }
        }
        return router
    }

    private static func response(_ answer: IngressResponse) -> Response {
        Response(
            status: answer.status, headers: answer.headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
