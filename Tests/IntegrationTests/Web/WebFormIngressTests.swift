import CRMConnector
import CRMHub
import CRMKafka
import CRMTestSupport
import CRMWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing

@testable import CRMIngress

/// Web-form ingress against a real broker (Tansu), driven by a real headless browser (chromium) and curl.
@Suite(.timeLimit(.minutes(3)))
struct WebFormIngressTests {
    let logger = Logger(label: "test")

    func form(topic: String) -> WebFormIngress.Form {
        var settings = WebFormConnector.Settings(path: "/forms/contact", topic: topic)
        settings.keyField = "email"
        settings.idField = "submission_id"
        settings.requiredFields = ["email", "message"]
        settings.honeypotField = "website"
        settings.maxAttachmentBytes = 1_000
        settings.ackTimeout = .seconds(2)
        return WebFormIngress.Form(name: "contact", settings: settings)
    }

    /// The form as the ingress server serves it, producing with `producer`.
    func ingress(_ form: WebFormIngress.Form, _ producer: KafkaProducer, attachments: String) -> IngressEndpoint {
        WebFormIngress.endpoint(
            form, emitter: SourceEmitter(connector: form.name, producer: producer), attachmentsDirectory: attachments,
            logger: logger)
    }

    /// Runs `cli` to its end and returns its standard output; its standard error goes to `errors` (default: discarded).
    func run(_ cli: String, _ arguments: [String], errors: URL? = nil) throws -> String {
        try ChildProcess.run(cli, arguments, errorPath: errors?.path ?? "/dev/null", timeout: 120).output
    }

    /// Loads `page` in headless chromium, whose form submits itself, and returns the DOM it ends on. (On a busy
    /// machine the dump may be taken before the response arrived, so tests check what reached Kafka, with the
    /// browser's user agent, rather than the dump.)
    func browse(_ browser: String, _ page: URL, scratch: URL) throws -> String {
        let profile = scratch.appendingPathComponent("profile-\(UUID())")
        return try run(
            browser,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--user-data-dir=\(profile.path)",
                "--virtual-time-budget=10000", "--dump-dom", page.absoluteString,
            ], errors: scratch.appendingPathComponent("chromium.log"))
    }

    @Test func aRealBrowserPostsUrlencodedAndMultipartFormsThatLandOnTheTopicAfterA202() async throws {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        let browser = try #require(chromium, "chromium is installed by deploy/lib/env.sh")
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(broker.bootstrap, ["raw.webform"], partitions: 1)
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let port = try freePort()
        let attachments = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-attachments-\(UUID())")
            .path
        let app = IngressServer.makeApplication(
            host: "127.0.0.1", port: port,
            endpoints: [ingress(form(topic: "raw.webform"), producer, attachments: attachments)], logger: logger)
        let group = ServiceGroup(services: [app], logger: logger)
        let running = Task { try await group.run() }
        guard await eventually(timeout: .seconds(30), { canConnect(port: port) }) else {
            throw TestSetupError("the ingress server did not start listening on 127.0.0.1:\(port)")
        }

        // Pages whose forms submit themselves: a real browser makes the POSTs.
        let pages = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-forms-\(UUID())")
        try FileManager.default.createDirectory(at: pages, withIntermediateDirectories: true)
        for (name, enctype) in [
            ("urlencoded", "application/x-www-form-urlencoded"), ("multipart", "multipart/form-data"),
        ] {
            let html = """
                <!doctype html><html><body onload="document.forms[0].submit()">
                <form method="post" enctype="\(enctype)" action="http://127.0.0.1:\(port)/forms/contact">
                <input name="email" value="Zoe.\(name)@Example.com"><input name="name" value="Zoë Müller">
                <textarea name="message">Hello from a \(name) form, with "quotes" &amp; ümlauts</textarea>
                <input name="website" value=""></form></body></html>
                """
            try html.write(to: pages.appendingPathComponent("\(name).html"), atomically: true, encoding: .utf8)
            let page = pages.appendingPathComponent("\(name).html")
            let dom = try await offPool { try self.browse(browser, page, scratch: pages) }
            if !dom.contains("\"status\":\"accepted\"") {
                print("chromium's DOM dump for \(name) came before the response: \(dom.prefix(200))")
            }
        }
        // curl sends an attachment.
        let cv = pages.appendingPathComponent("cv.txt")
        try "my cv".write(to: cv, atomically: true, encoding: .utf8)
        let curlOutput = try await offPool {
            try self.run(
                "/usr/bin/curl",
                [
                    "-s", "-F", "email=curl@example.com", "-F", "message=see attached", "-F", "submission_id=S-42", "-F",
                    "cv=@\(cv.path);type=text/plain",
                    "http://127.0.0.1:\(port)/forms/contact",
                ])
        }
        #expect(curlOutput.contains("accepted"))

        let messages = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "raw.webform", count: 3, timeout: .seconds(30))
        #expect(messages.count == 3)
        let documents = messages.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.value)) as? [String: Any]
        }
        let fields = documents
        #expect(fields.first?["name"] as? String == "Zoë Müller")
        #expect(fields.first?["message"] as? String == "Hello from a urlencoded form, with \"quotes\" & ümlauts")
        #expect(fields.allSatisfy { $0["website"] == nil }, "the honeypot field is not forwarded")
        #expect(
            messages.map(\.keyText) == ["zoe.urlencoded@example.com", "zoe.multipart@example.com", "curl@example.com"])
        #expect(messages.allSatisfy { $0.headers.text("crm-id") != nil })
        let agents = documents.map { ($0["_form"] as? [String: Any])?["user_agent"] as? String ?? "" }
        #expect(
            agents[0].contains("HeadlessChrome") && agents[1].contains("HeadlessChrome"),
            "a real browser posted: \(agents)")
        #expect(agents[2].hasPrefix("curl/"))
        let attachment = try #require(
            ((documents.last?["_form"] as? [String: Any])?["attachments"] as? [[String: Any]])?.first)
        #expect(attachment["filename"] as? String == "cv.txt")
        #expect(attachment["size"] as? Int == 5)
        let reference = try #require(attachment["ref"] as? String)
        #expect(try String(contentsOf: URL(string: reference)!, encoding: .utf8) == "my cv")
        #expect(messages.last?.headers.text("crm-id") == "S-42", "the site's submission id is the post's id")
        #expect(reference.contains("/contact/S-42/"), "and names its attachment folder: \(reference)")

        await group.triggerGracefulShutdown()
        try await running.value
        await producer.shutdown()
    }

    @Test func badInputGetsAClearClientErrorAndNothingIsProduced() async throws {
        // No broker needed: every request here is refused before producing.
        let producer = try KafkaTestClient.producer("127.0.0.1:\(try freePort())")
        let router = IngressServer.makeRouter(
            endpoints: [ingress(form(topic: "t"), producer, attachments: "/tmp")], logger: logger)
        let app = Application(router: router)
        try await app.test(.router) { client in
            let urlencoded: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            try await client.execute(
                uri: "/forms/contact", method: .post, headers: urlencoded, body: ByteBuffer(string: "email=a%40b.c")
            ) {
                #expect($0.status == .unprocessableContent)
                #expect(String(buffer: $0.body).contains("message"))
            }
            try await client.execute(
                uri: "/forms/contact", method: .post, headers: [.contentType: "text/plain"],
                body: ByteBuffer(string: "hi")
            ) {
                #expect($0.status == .unsupportedMediaType)
            }
            try await client.execute(
                uri: "/forms/contact", method: .post, headers: urlencoded,
                body: ByteBuffer(string: "email=a%40b.c&message=x&website=spam")
            ) { #expect($0.status == .badRequest) }
            try await client.execute(
                uri: "/forms/contact", method: .post, headers: urlencoded, body: ByteBuffer(string: "email=%ZZ")
            ) {
                #expect($0.status == .badRequest)
            }
            try await client.execute(
                uri: "/forms/contact", method: .post, headers: [.contentType: "multipart/form-data; boundary=B"],
                body: ByteBuffer(string: "--B\r\nbroken")
            ) { #expect($0.status == .badRequest) }
        }
        await producer.shutdown(timeout: .milliseconds(100))
    }

    @Test func whenKafkaDoesNotAcknowledgeTheAnswerIs503NeverA2xx() async throws {
        let producer = try KafkaTestClient.producer("127.0.0.1:\(try freePort())")
        let router = IngressServer.makeRouter(
            endpoints: [ingress(form(topic: "t"), producer, attachments: "/tmp")], logger: logger)
        try await Application(router: router).test(.router) { client in
            try await client.execute(
                uri: "/forms/contact", method: .post,
                headers: [.contentType: "application/json", .init("Idempotency-Key")!: "form-123"],
                body: ByteBuffer(string: "{\"email\":\"a@b.c\",\"message\":\"hi\"}")
            ) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "5")
                #expect(String(buffer: response.body).contains("form-123"))
            }
        }
        await producer.shutdown(timeout: .milliseconds(100))
    }

    @Test("attachments written for a post are removed when Kafka does not acknowledge its message")
    func attachmentsAreRemovedWhenKafkaFails() async throws {
        let producer = try KafkaTestClient.producer("127.0.0.1:\(try freePort())")
        let attachments = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-attachments-\(UUID())")
        defer { try? FileManager.default.removeItem(at: attachments) }
        let router = IngressServer.makeRouter(
            endpoints: [ingress(form(topic: "t"), producer, attachments: attachments.path)], logger: logger)
        let body =
            "--B\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.c\r\n"
            + "--B\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n"
            + "--B\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.txt\"\r\n\r\nmy cv\r\n--B--\r\n"
        try await Application(router: router).test(.router) { client in
            try await client.execute(
                uri: "/forms/contact", method: .post,
                headers: [.contentType: "multipart/form-data; boundary=B", .init("Idempotency-Key")!: "form-att-1"],
                body: ByteBuffer(string: body)
            ) { #expect($0.status == .serviceUnavailable) }
        }
        let folder = attachments.appendingPathComponent("contact").appendingPathComponent("form-att-1")
        #expect(!FileManager.default.fileExists(atPath: folder.path), "attachments left in \(folder.path)")
        // The form folder itself was created by the post, so the attachment was written before Kafka refused it.
        #expect(FileManager.default.fileExists(atPath: attachments.appendingPathComponent("contact").path))
        await producer.shutdown(timeout: .milliseconds(100))
    }
}
