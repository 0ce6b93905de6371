import CRMCSV
import CRMCTIProtocol
import CRMMapping
import CRMModel
import CRMTransport
import CRMWebFormats
import CRMYAML
import Foundation

/// The input surfaces, each the path bytes from outside take through crmhub's parsers. A surface must never trap,
/// hang or leak on any input; what it cannot read it refuses with a typed error, which the harness ignores.
enum FuzzSurface: String, CaseIterable, Sendable {
    /// A web-form body: `Content-Type` value, a line feed, the body (urlencoded, multipart or a JSON object).
    case form
    /// A signed webhook: the `Stripe-Signature` value, a line feed, the body; signature check, event envelope,
    /// JSON-webhook object, replay cache.
    case webhook
    /// An RFC 5322 message as IMAP fetches it: MIME walk, header accessors, the inbound-mail document and the
    /// `inbound-email` mapping.
    case mail
    /// A CSV batch file: the first byte picks the delimiter and encoding; rows, then each row under the header
    /// through the `crm-customer-import` mapping.
    case csv
    /// The Kamailio evapi byte stream (netstrings or JSON lines), fed in two chunks, and each frame's call event.
    case evapi
    /// The Asterisk AMI byte stream, fed in two chunks, and each frame's call event.
    case ami
    /// A YAML configuration file: parsed, then every node read as every kind of configuration value.
    case yaml
    /// A mapping file: compiled; when it compiles, its inline tests run.
    case mappingCompile = "mapping-compile"
    /// A Kafka message value: parsed as JSON and applied to every shipped mapping (Mappings/).
    case mappingApply = "mapping-apply"

    /// The surface CRMHUB_FUZZ_SURFACE names (libFuzzer owns the command line).
    static let selected: FuzzSurface = {
        let name = ProcessInfo.processInfo.environment["CRMHUB_FUZZ_SURFACE"] ?? ""
        guard let surface = FuzzSurface(rawValue: name) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("set CRMHUB_FUZZ_SURFACE to one of: \(names)\n".utf8))
            exit(2)
        }
        return surface
    }()

    func run(_ bytes: [UInt8]) {
        switch self {
        case .form: Self.form(bytes)
        case .webhook: Self.webhook(bytes)
        case .mail: Self.mail(bytes)
        case .csv: Self.csv(bytes)
        case .evapi: Self.evapi(bytes)
        case .ami: Self.ami(bytes)
        case .yaml: Self.yaml(bytes)
        case .mappingCompile: Self.mappingCompile(bytes)
        case .mappingApply: Self.mappingApply(bytes)
        }
    }

    /// Serialises what a mapping produced, as the sink would.
    static func drain(_ result: MappingResult?) {
        guard case .output(let records) = result else { return }
        for record in records { _ = record.jsonBytes() }
    }

    /// The first line (without its line feed) and the rest.
    static func splitFirstLine(_ bytes: [UInt8]) -> (String, [UInt8]) {
        guard let newline = bytes.firstIndex(of: 0x0A) else { return (String(decoding: bytes, as: UTF8.self), []) }
        return (String(decoding: bytes[..<newline], as: UTF8.self), Array(bytes[(newline + 1)...]))
    }

    static func form(_ bytes: [UInt8]) {
        let (contentType, body) = splitFirstLine(bytes)
        guard
            let submission = try? Submission.parse(body, contentType: contentType, limits: .init(attachmentBytes: 4096))
        else { return }
        for (name, values) in submission.fields { _ = name.utf8.count + values.count }
        for part in submission.attachments { _ = (part.filename?.count ?? 0) + part.body.count }
    }

    static let webhookSecret = "whsec_fuzz"
    static let webhookNow = Date(timeIntervalSince1970: 1_700_000_000)
    static let replays = StripeReplayCache(tolerance: .seconds(300))

    static func webhook(_ bytes: [UInt8]) {
        let (header, body) = splitFirstLine(bytes)
        let verifier = StripeSignatureVerifier(secrets: [webhookSecret, "whsec_old"])
        if let match = try? verifier.verify(header: header, payload: body, now: webhookNow) {
            try? replays.admit(match, now: webhookNow)
            replays.forget(match)
        }
        // The same body correctly signed, so the fuzzer also walks the accepted path.
        let signed = StripeSignatureVerifier.header(for: body, secret: webhookSecret, timestamp: 1_700_000_000)
        _ = try? verifier.verify(header: signed + "," + header, payload: body, now: webhookNow)
        if let event = try? StripeEvent(body) {
            _ = event.id.count + event.type.count + (event.customerKey?.count ?? 0)
        }
        // The generic JSON webhook reads the body as a JSON object with Foundation; the mappings use JSONValue.
        _ = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        _ = try? JSONValue.parse(body).jsonBytes()
    }

    static func mail(_ bytes: [UInt8]) {
        let mail = ParsedMail.parse(bytes)
        _ = (mail.subject, mail.from, mail.messageID, mail.inReplyTo, mail.references, mail.date, mail.text, mail.html)
        let document = InboundMailDocument.make(
            mail, messageID: mail.messageID ?? "fuzz@localhost", source: "fuzz", mailbox: "INBOX", uidValidity: 1,
            uid: 1)
        drain(try? Shipped.library.mapping(named: "inbound-email")?.apply(document))
    }

    static func csv(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let delimiters: [UInt8] = [UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "\t"), UInt8(ascii: "|")]
        let encoding = TextEncoding.allCases[Int(first >> 4) % TextEncoding.allCases.count]
        let options = CSVOptions(delimiter: delimiters[Int(first & 3)], encoding: encoding)
        let reader = CSVReader(bytes: Array(bytes.dropFirst()), options: options)
        // The same bytes read as one text per record must give the same records and errors.
        let textReader = CSVReader(bytes: Array(bytes.dropFirst()), options: options)
        var header: [String]?
        var layout: CompiledMapping.ColumnLayout?
        var rows = 0
        let mapping = Shipped.library.mapping(named: "crm-customer-import")
        while let result = reader.next(), rows < 1_000 {
            rows += 1
            let text = textReader.nextText()
            switch (result, text) {
            case (.success(let record), .success(let texts)?):
                precondition(record.fields == texts.fields && record.line == texts.line, "a text record differs")
            case (.failure(let error), .failure(let textError)?):
                precondition(error == textError, "a text record's error differs")
            default:
                preconditionFailure("a text record differs in kind")
            }
            guard case .success(let record) = result, case .success(let texts)? = text else { continue }
            guard let names = header else {
                header = record.fields
                layout = mapping?.columnLayout(header: record.fields.map { [$0] })
                continue
            }
            let members = zip(names, record.fields).map { ($0, JSONValue.string($1)) }
            let byObject = Result { () throws(MappingError) in try mapping?.apply(JSONValue.object(members)) }
            // The row mapped from its columns' texts gives what its object gives.
            if let mapping, let layout, texts.fieldCount == names.count {
                let byColumn = Result { () throws(MappingError) in
                    try mapping.apply(columns: texts.text, ends: texts.ends, layout: layout) as MappingResult?
                }
                precondition(byColumn == byObject, "a row mapped from its columns differs from its object")
            }
            drain(try? byObject.get())
            _ = CSVWriter(options: options).encode(record.fields)
        }
    }

    /// Where a stream is cut in two: CTI bytes arrive in pieces, and a frame split across reads must parse the same.
    static func cut(_ bytes: [UInt8]) -> (ArraySlice<UInt8>, ArraySlice<UInt8>) {
        guard let first = bytes.first else { return ([], []) }
        let rest = bytes.dropFirst()
        let at = rest.startIndex + Int(first) % (rest.count + 1)
        return (rest[..<at], rest[at...])
    }

    static func evapi(_ bytes: [UInt8]) {
        var framer = EvapiFramer(maxFrameBytes: 4096)
        let (head, tail) = cut(bytes)
        for chunk in [head, tail] {
            framer.append(chunk)
            while let frame = try? framer.next() {
                _ = try? KamailioEventParser.parse(frame, receivedAt: 1_700_000_000)
            }
        }
    }

    static func ami(_ bytes: [UInt8]) {
        var framer = AMIFramer(maxFrameBytes: 4096)
        let (head, tail) = cut(bytes)
        for chunk in [head, tail] {
            framer.append(chunk)
            while true {
                do {
                    guard let frame = try framer.next() else { break }
                    _ = frame.wireText
                    _ = try? AMIEventTranslator.callEvent(from: frame, receivedAt: 1_700_000_000)
                } catch {
                    continue  // the bad frame is consumed; the stream goes on
                }
            }
        }
    }

    static func yaml(_ bytes: [UInt8]) {
        guard let root = try? YAMLDocument.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml") else {
            return
        }
        var budget = 2_000
        func walk(_ value: YAMLValue) {
            budget -= 1
            guard budget > 0 else { return }
            _ = (value.location, value.isNull, value.kindName)
            _ = try? value.string()
            _ = try? value.nonEmptyString()
            _ = try? value.int(in: 1...65_535)
            _ = try? value.int()
            _ = try? value.double()
            _ = try? value.bool()
            _ = try? value.oneOf(["json", "text"])
            _ = try? value.topicName()
            _ = try? value.delay()
            _ = try? value.secretValue()
            _ = try? value.secretReference("a password")
            _ = try? value.ingressPath()
            if let mapping = try? value.mapping() {
                _ = mapping.optional("name")
                _ = try? mapping.require("kind")
                _ = try? mapping.allowOnly(["name", "kind", "topic"])
                for entry in mapping.entries { walk(entry.value) }
            }
            if let items = try? value.sequence() { for item in items { walk(item) } }
        }
        walk(root)
    }

    static func mappingCompile(_ bytes: [UInt8]) {
        // Mapping files are the operator's configuration; a table file may name any path. Keep the fuzzer off
        // device and process files (reading /dev/zero never ends) — not a product limit, a harness one.
        let text = String(decoding: bytes, as: UTF8.self)
        guard !text.contains("dev"), !text.contains("proc"), !text.contains("sys") else { return }
        guard FileManager.default.createFile(atPath: Shipped.scratchFile, contents: Data(bytes)) else { return }
        guard let library = try? MappingLibrary.load(files: [Shipped.scratchFile]) else { return }
        for mapping in library.mappings.values {
            _ = mapping.runTests()
            drain(try? mapping.apply(Array(#"{"id":"1","email":"a@b.c","name":"A","amount":"1.5"}"#.utf8)))
        }
    }

    static func mappingApply(_ bytes: [UInt8]) {
        for mapping in Shipped.mappings {
            drain(try? mapping.apply(bytes, context: Shipped.library.context))
        }
    }
}

/// The shipped mappings (Mappings/ of this checkout, or CRMHUB_FUZZ_MAPPINGS), loaded once per process.
enum Shipped {
    static let directory: String =
        ProcessInfo.processInfo.environment["CRMHUB_FUZZ_MAPPINGS"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Mappings").path

    static let library: MappingLibrary = {
        do {
            return try MappingLibrary.load(directory: directory)
        } catch {
            FileHandle.standardError.write(Data("cannot load the mappings in \(directory): \(error)\n".utf8))
            exit(2)
        }
    }()

    static let mappings: [CompiledMapping] = library.mappings.values.sorted { $0.name < $1.name }

    static let scratchFile: String = {
        let folder = NSTemporaryDirectory() + "crmhub-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder + "/mapping.yaml"
    }()
}
