import CRMModel
import Testing

@testable import CRMTelephony

@Suite("CTI event parsers")
struct CTIParserTests {
    // MARK: Kamailio evapi JSON

    @Test("a Kamailio evapi event becomes a CallEvent with its SIP code and timestamp")
    func kamailioEvent() throws {
        let json =
            #"{"source":"kamailio","event":"failed","call_id":"1-2@h","from":"02079460018","to":"2001","ts":1795598851.695542,"code":486}"#
        let event = try KamailioEventParser.parse(Array(json.utf8), receivedAt: 1)
        #expect(
            event
                == CallEvent(
                    callID: "1-2@h", kind: .failed, from: "02079460018", to: "2001", timestamp: 1795598851.695542,
                    sipCode: 486, source: "kamailio"))
    }

    @Test("code 0 means no SIP code and a missing ts falls back to the arrival time")
    func kamailioDefaults() throws {
        let event = try KamailioEventParser.parse(
            Array(#"{"event":"ringing","call_id":"c","ts":"12.5","code":0}"#.utf8), receivedAt: 99)
        #expect(event.sipCode == nil)
        #expect(event.timestamp == 12.5)
        #expect(event.from == "" && event.source == "kamailio")
        let noTime = try KamailioEventParser.parse(Array(#"{"event":"hangup","call_id":"c"}"#.utf8), receivedAt: 99)
        #expect(noTime.timestamp == 99)
    }

    @Test(
        "malformed Kamailio events are rejected with the kind of problem",
        arguments: [
            ("", CTIParseError.Kind.json),
            ("{\"event\":\"ringing\"", .json),
            ("[1,2]", .json),
            ("\u{00}\u{ff}garbage", .json),
            (#"{"call_id":"c"}"#, .missingField),
            (#"{"event":"ringing","call_id":""}"#, .missingField),
            (#"{"event":"ringing"}"#, .missingField),
            (#"{"event":"exploded","call_id":"c"}"#, .invalidField),
            (#"{"event":"ringing","call_id":"c","ts":"soon"}"#, .invalidField),
            (#"{"event":"ringing","call_id":"c","ts":-5}"#, .invalidField),
            (#"{"event":"ringing","call_id":"c","from":{"a":1}}"#, .invalidField),
        ])
    func kamailioErrors(input: String, kind: CTIParseError.Kind) {
        #expect(throws: CTIParseError.self) { try KamailioEventParser.parse(Array(input.utf8), receivedAt: 0) }
        do {
            _ = try KamailioEventParser.parse(Array(input.utf8), receivedAt: 0)
        } catch {
            #expect(error.kind == kind)
            #expect(!error.description.contains("02079460018"))
        }
    }

    // MARK: evapi framing

    @Test("netstrings split across reads come out whole and in order")
    func netstringsAcrossReads() throws {
        let stream = Array("5:hello,3:abc,".utf8)
        var framer = EvapiFramer()
        var frames: [String] = []
        for byte in stream {
            framer.append([byte])
            while let frame = try framer.next() { frames.append(String(decoding: frame, as: UTF8.self)) }
        }
        #expect(frames == ["hello", "abc"])
        #expect(framer.pendingBytes == 0)
    }

    @Test("newline-delimited JSON frames are accepted too (CRLF tolerated)")
    func newlineFrames() throws {
        var framer = EvapiFramer()
        framer.append(Array("{\"a\":1}\r\n{\"b\":2}\n{\"c\"".utf8))
        #expect(try framer.next().map { String(decoding: $0, as: UTF8.self) } == "{\"a\":1}")
        #expect(try framer.next().map { String(decoding: $0, as: UTF8.self) } == "{\"b\":2}")
        #expect(try framer.next() == nil)
        framer.append(Array(":3}\n".utf8))
        #expect(try framer.next().map { String(decoding: $0, as: UTF8.self) } == "{\"c\":3}")
    }

    @Test(
        "broken evapi framing is a framing error, never a crash",
        arguments: ["5:hello;", "12x:abc,", "x5:hello,", "99999999:a,", "3:abcd,"])
    func framingErrors(input: String) {
        var framer = EvapiFramer(maxFrameBytes: 1000)
        framer.append(Array(input.utf8))
        #expect(throws: CTIParseError.self) {
            while try framer.next() != nil {}
        }
    }

    // MARK: AMI frames

    static let amiStream = """
        Asterisk Call Manager/5.0.1\r
        Response: Success\r
        ActionID: crmhub-login\r
        Message: Authentication accepted\r
        \r
        Event: Newchannel\r
        Channel: PJSIP/trunk-00000001\r
        ChannelState: 4\r
        CallerIDNum: 02079460018\r
        Exten: 2001\r
        Uniqueid: 1700000000.1\r
        Linkedid: 1700000000.1\r
        \r

        """

    @Test("AMI frames are split at blank lines after the greeting, even byte by byte")
    func amiFraming() throws {
        var framer = AMIFramer()
        var frames: [AMIFrame] = []
        for byte in Array(Self.amiStream.utf8) {
            framer.append([byte])
            while let frame = try framer.next() { frames.append(frame) }
        }
        #expect(frames.count == 2)
        #expect(frames[0]["response"] == "Success")
        #expect(frames[1].event == "Newchannel")
        #expect(frames[1]["CallerIDNum"] == "02079460018")
    }

    @Test("an AMI frame with a line that is not Key: Value is rejected and the next frame still parses")
    func amiGarbage() throws {
        var framer = AMIFramer()
        framer.append(Array("Event: Hangup\r\nthis is not a header\r\n\r\nEvent: Newstate\r\nUniqueid: 1\r\n\r\n".utf8))
        #expect(throws: CTIParseError.self) { try framer.next() }
        let next = try framer.next()
        #expect(next?.event == "Newstate")
        #expect(try framer.next() == nil)
    }

    @Test("an AMI frame without a blank line that grows too large is a framing error")
    func amiOversized() {
        var framer = AMIFramer(maxFrameBytes: 64)
        framer.append(Array(("Event: Newchannel\r\n" + String(repeating: "X: y\r\n", count: 40)).utf8))
        #expect(throws: CTIParseError.self) { try framer.next() }
    }

    static func frame(_ pairs: KeyValuePairs<String, String>) -> AMIFrame {
        AMIFrame(fields: pairs.map { ($0.key, $0.value) })
    }

    @Test("AMI call events map to ringing, answered, hangup and failed")
    func amiTranslation() throws {
        let ringing = try AMIEventTranslator.callEvent(
            from: Self.frame([
                "Event": "Newchannel", "CallerIDNum": "0207", "Exten": "2001", "Uniqueid": "1.1", "Linkedid": "1.1",
                "Timestamp": "1700000000.250",
            ]),
            receivedAt: 5)
        #expect(
            ringing
                == CallEvent(
                    callID: "1.1", kind: .ringing, from: "0207", to: "2001", timestamp: 1700000000.25,
                    source: "asterisk"))
        let agentLeg = try AMIEventTranslator.callEvent(
            from: Self.frame(["Event": "Newchannel", "CallerIDNum": "2001", "Uniqueid": "1.2", "Linkedid": "1.1"]),
            receivedAt: 5)
        #expect(agentLeg == nil)
        let dial = try AMIEventTranslator.callEvent(
            from: Self.frame([
                "Event": "DialBegin", "CallerIDNum": "0207", "DestCallerIDNum": "201", "Uniqueid": "1.1",
                "Linkedid": "1.1",
            ]), receivedAt: 5)
        #expect(dial?.kind == .ringing && dial?.to == "201")
        let up = try AMIEventTranslator.callEvent(
            from: Self.frame([
                "Event": "Newstate", "ChannelState": "6", "ChannelStateDesc": "Up", "Uniqueid": "1.1",
                "Linkedid": "1.1",
            ]), receivedAt: 6)
        #expect(up?.kind == .answered && up?.sipCode == 200 && up?.timestamp == 6)
        let ringState = try AMIEventTranslator.callEvent(
            from: Self.frame(["Event": "Newstate", "ChannelState": "5", "Uniqueid": "1.1", "Linkedid": "1.1"]),
            receivedAt: 6)
        #expect(ringState == nil)
        let busy = try AMIEventTranslator.callEvent(
            from: Self.frame([
                "Event": "DialEnd", "DialStatus": "BUSY", "DestCallerIDNum": "201", "Uniqueid": "1.1",
                "Linkedid": "1.1",
            ]), receivedAt: 7)
        #expect(busy?.kind == .failed && busy?.sipCode == 486)
        let normal = try AMIEventTranslator.callEvent(
            from: Self.frame(["Event": "Hangup", "Cause": "16", "Uniqueid": "1.1", "Linkedid": "1.1"]), receivedAt: 8)
        #expect(normal?.kind == .hangup && normal?.sipCode == nil)
        let rejected = try AMIEventTranslator.callEvent(
            from: Self.frame(["Event": "Hangup", "Cause": "21", "Uniqueid": "1.1", "Linkedid": "1.1"]), receivedAt: 8)
        #expect(rejected?.kind == .failed && rejected?.sipCode == 603)
        let response = try AMIEventTranslator.callEvent(from: Self.frame(["Response": "Success"]), receivedAt: 8)
        #expect(response == nil)
    }

    @Test(
        "Q.850 causes map to SIP codes (RFC 3398)",
        arguments: [(1, 404), (17, 486), (18, 408), (19, 480), (21, 603), (28, 484), (34, 503), (127, 500)])
    func q850(cause: Int, sip: Int) {
        #expect(AMIEventTranslator.sipCode(q850Cause: cause) == sip)
    }

    @Test(
        "AMI call events without their identifiers or with non-numeric values are errors",
        arguments: [
            ["Event": "Hangup", "Cause": "16"],
            ["Event": "Newstate", "Uniqueid": "1", "ChannelState": "up"],
            ["Event": "Hangup", "Uniqueid": "1", "Cause": "sixteen"],
            ["Event": "DialEnd", "Uniqueid": "1"],
        ])
    func amiErrors(fields: [String: String]) {
        let frame = AMIFrame(fields: fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        #expect(throws: CTIParseError.self) { try AMIEventTranslator.callEvent(from: frame, receivedAt: 0) }
    }

    @Test("timestamps are RFC 3339 UTC with milliseconds")
    func rfc3339() {
        #expect(CTIMessages.rfc3339(0) == "1970-01-01T00:00:00.000Z")
        #expect(CTIMessages.rfc3339(1782911000.5) == "2026-07-01T13:03:20.500Z")
        #expect(CTIMessages.rfc3339(951_782_400) == "2000-02-29T00:00:00.000Z")
    }
}
