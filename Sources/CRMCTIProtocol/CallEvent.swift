// CRMCTIProtocol: what telephony peers send, read without any I/O — Kamailio evapi frames (netstrings or JSON
// lines) and their JSON call events, Asterisk AMI frames and the AMI events that are call events, each normalised to
// one `CallEvent`. CRMTelephony does the rest; kept apart so that the fuzzers (Sources/crmhub-fuzz) build on it alone.

/// One call event, normalised from whichever source signalled it.
public struct CallEvent: Sendable, Equatable {
    /// What happened to the call.
    public enum Kind: String, Sendable, CaseIterable {
        /// The call is offered (INVITE reached the proxy; Asterisk Newchannel/DialBegin).
        case ringing
        /// The call was answered (2xx to the INVITE; Asterisk Newstate Up / DialEnd ANSWER).
        case answered
        /// An established (or still ringing) call was cleared normally (BYE; Asterisk Hangup cause 16).
        case hangup
        /// The call attempt ended without an answer, with a SIP status ≥ 300 when known.
        case failed
    }

    /// The call's identity at the source (SIP Call-ID; Asterisk Linkedid).
    public var callID: String
    public var kind: Kind
    /// The caller as signalled (SIP From user, Asterisk CallerIDNum); not yet normalised.
    public var from: String
    /// The callee as signalled: the agent's extension or the dialled number.
    public var to: String
    /// When the event happened at the source, in seconds since 1970 (microsecond precision when the source has it).
    public var timestamp: Double
    /// SIP status code (answered: 200; failed: 486, 487, ...), if known.
    public var sipCode: Int?
    /// Talk time in seconds, if the source reports it (the tracker computes it otherwise).
    public var durationSeconds: Int?
    /// Where the event came from: `kamailio` or `asterisk`.
    public var source: String

    public init(
        callID: String, kind: Kind, from: String, to: String, timestamp: Double, sipCode: Int? = nil,
        durationSeconds: Int? = nil, source: String
    ) {
        self.callID = callID
        self.kind = kind
        self.from = from
        self.to = to
        self.timestamp = timestamp
        self.sipCode = sipCode
        self.durationSeconds = durationSeconds
        self.source = source
    }
}

/// A CTI input that could not be understood. Never carries the raw frame (it holds phone numbers): only what was
/// wrong and where.
public struct CTIParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The byte stream is not framed as expected (bad netstring length, missing terminator, oversized frame).
        case framing
        /// The frame is not valid JSON / not a JSON object.
        case json
        /// A required field is missing or empty.
        case missingField
        /// A field has the wrong type or an unknown value.
        case invalidField
        /// An AMI line is not `Key: Value`.
        case malformedLine
    }

    public var kind: Kind
    /// The input: `kamailio` (evapi frames and posted events) or `asterisk-ami`.
    public var input: String
    public var reason: String

    public init(_ kind: Kind, input: String, _ reason: String) {
        self.kind = kind
        self.input = input
        self.reason = reason
    }

    public var description: String { "\(input) \(kind.rawValue): \(reason)" }
}
