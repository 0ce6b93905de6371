/// Turns Asterisk AMI events into ``CallEvent``s. One call is one Asterisk *Linkedid* (shared by the caller's
/// channel and every channel dialled for it); the caller's channel is the one whose `Uniqueid` equals its `Linkedid`.
///
/// | AMI event | condition | CallEvent |
/// |---|---|---|
/// | `Newchannel` | caller's channel | `ringing` from `CallerIDNum` to `Exten` |
/// | `DialBegin` | | `ringing` to the dialled agent (`DestCallerIDNum`, else `DestExten`) |
/// | `DialEnd` | `DialStatus: ANSWER` | `answered` by the agent, code 200 |
/// | `DialEnd` | other `DialStatus` | `failed` (BUSY 486, NOANSWER 480, CANCEL 487, CONGESTION 503, CHANUNAVAIL 480, ...) |
/// | `Newstate` | caller's channel, `ChannelState: 6` (Up) | `answered`, code 200 |
/// | `Hangup` | caller's channel, `Cause: 16` (normal clearing) | `hangup` |
/// | `Hangup` | caller's channel, other `Cause` | `failed` with the Q.850 cause mapped to SIP (RFC 3398) |
///
/// Other events and responses to actions are ignored (nil). The `Timestamp` header (AMI `timestampevents=yes`) is
/// used when present, else the time the frame arrived.
public enum AMIEventTranslator {
    /// The call event `frame` stands for, nil when it is not a call event the hub tracks.
    /// - Throws: ``CTIParseError`` when a call event lacks `Linkedid`/`Uniqueid` or has a non-numeric state/cause.
    public static func callEvent(from frame: AMIFrame, receivedAt: Double) throws(CTIParseError) -> CallEvent? {
        guard let name = frame.event else { return nil }
        switch name.lowercased() {
        case "newchannel": return try newChannel(frame, receivedAt)
        case "newstate": return try newState(frame, receivedAt)
        case "dialbegin": return try dialBegin(frame, receivedAt)
        case "dialend": return try dialEnd(frame, receivedAt)
        case "hangup": return try hangup(frame, receivedAt)
        default: return nil
        }
    }

    /// SIP status for an Asterisk `DialStatus` other than ANSWER.
    public static func sipCode(dialStatus: String) -> Int {
        switch dialStatus.uppercased() {
        case "BUSY": 486
        case "NOANSWER": 480
        case "CANCEL": 487
        case "CONGESTION": 503
        case "CHANUNAVAIL": 480
        case "DONTCALL", "TORTURE": 603
        case "INVALIDARGS": 400
        default: 500
        }
    }

    /// SIP status for a Q.850 release cause (RFC 3398 section 8.2.1), nil for normal clearing and unknown causes.
    public static func sipCode(q850Cause cause: Int) -> Int? {
        switch cause {
        case 1, 2, 3: 404
        case 17: 486
        case 18: 408
        case 19: 480
        case 20: 480
        case 21: 603
        case 22: 410
        case 26: 404
        case 27: 502
        case 28: 484
        case 29: 501
        case 31: 480
        case 34, 38, 41, 42, 47: 503
        case 55, 57, 87: 403
        case 58, 65, 70, 79: 488
        case 88: 488
        case 102: 504
        case 111, 127: 500
        default: nil
        }
    }

    /// The `Timestamp` header when it is a plausible epoch time (after 1970, before the year 33658, as Kamailio's
    /// `ts` must be), else `receivedAt`: a huge value such as `1e300` would overflow every date computed from it.
    static func timestamp(_ frame: AMIFrame, _ receivedAt: Double) -> Double {
        frame["Timestamp"].flatMap(Double.init).flatMap { $0.isFinite && $0 > 0 && $0 < 1e12 ? $0 : nil }
            ?? receivedAt
    }

    static func linkedID(_ frame: AMIFrame) throws(CTIParseError) -> (call: String, isCaller: Bool) {
        guard let unique = frame["Uniqueid"], !unique.isEmpty else {
            throw CTIParseError(.missingField, input: AMIFramer.input, "\(frame.event ?? "event") without Uniqueid")
        }
        let linked = frame["Linkedid"].flatMap { $0.isEmpty ? nil : $0 } ?? unique
        return (linked, linked == unique)
    }

    static func number(_ value: String?) -> String {
        guard let value, !value.isEmpty, value != "<unknown>" else { return "" }
        return value
    }

    static func newChannel(_ frame: AMIFrame, _ receivedAt: Double) throws(CTIParseError) -> CallEvent? {
        let (call, isCaller) = try linkedID(frame)
        guard isCaller else { return nil }
        return CallEvent(
            callID: call, kind: .ringing, from: number(frame["CallerIDNum"]), to: number(frame["Exten"]),
            timestamp: timestamp(frame, receivedAt), source: "asterisk")
    }

    static func newState(_ frame: AMIFrame, _ receivedAt: Double) throws(CTIParseError) -> CallEvent? {
        let (call, isCaller) = try linkedID(frame)
        guard isCaller else { return nil }
        guard let stateText = frame["ChannelState"], let state = Int(stateText) else {
            throw CTIParseError(.invalidField, input: AMIFramer.input, "Newstate without a numeric ChannelState")
        }
        guard state == 6 else { return nil }
        return CallEvent(
            callID: call, kind: .answered, from: number(frame["CallerIDNum"]), to: number(frame["ConnectedLineNum"]),
            timestamp: timestamp(frame, receivedAt), sipCode: 200, source: "asterisk")
    }

    static func agent(_ frame: AMIFrame) -> String {
        let dest = number(frame["DestCallerIDNum"])
        return dest.isEmpty ? number(frame["DestExten"]) : dest
    }

    static func dialBegin(_ frame: AMIFrame, _ receivedAt: Double) throws(CTIParseError) -> CallEvent? {
        let (call, _) = try linkedID(frame)
        return CallEvent(
            callID: call, kind: .ringing, from: number(frame["CallerIDNum"]), to: agent(frame),
            timestamp: timestamp(frame, receivedAt), source: "asterisk")
    }

    static func dialEnd(_ frame: AMIFrame, _ receivedAt: Double) throws(CTIParseError) -> CallEvent? {
        let (call, _) = try linkedID(frame)
        guard let status = frame["DialStatus"], !status.isEmpty else {
            throw CTIParseError(.missingField, input: AMIFramer.input, "DialEnd without DialStatus")
        }
        let answered = status.uppercased() == "ANSWER"
        return CallEvent(
            callID: call, kind: answered ? .answered : .failed, from: number(frame["CallerIDNum"]), to: agent(frame),
            timestamp: timestamp(frame, receivedAt), sipCode: answered ? 200 : sipCode(dialStatus: status),
            source: "asterisk")
    }

    static func hangup(_ frame: AMIFrame, _ receivedAt: Double) throws(CTIParseError) -> CallEvent? {
        let (call, isCaller) = try linkedID(frame)
        guard isCaller else { return nil }
        let causeText = frame["Cause"] ?? "16"
        guard let cause = Int(causeText) else {
            throw CTIParseError(.invalidField, input: AMIFramer.input, "Hangup with a non-numeric Cause")
        }
        let code = sipCode(q850Cause: cause)
        let normal = cause == 16 || cause == 0 || code == nil
        return CallEvent(
            callID: call, kind: normal ? .hangup : .failed, from: number(frame["CallerIDNum"]),
            to: number(frame["ConnectedLineNum"]), timestamp: timestamp(frame, receivedAt),
            sipCode: normal ? nil : code,
            source: "asterisk")
    }
}
