import CRMModel
import CRMNormalize

// Values made from a root member's bytes.
//
// A message read member by member keeps its plain strings as byte ranges (``Evaluator/rootText(_:)``) until a value
// needs the string. `{path: email, fn: [email]}` needs only the normalised address: the e-mail, name and phone
// normalisers read bytes, so the member's own string is never made. ``RootTextNode`` runs such a pipeline (byte text
// steps, then one step that makes a value of bytes) on the member's bytes, and leaves anything its steps do not decide
// to the pipeline's value path.

/// A step that also makes its value from the UTF-8 bytes of a string: for a string value `s` whose bytes are `b`,
/// `value(utf8: b)` is nil or `apply(.string(s))`.
protocol ByteValueStep: StepNode {
    /// This step's value of the UTF-8 text `utf8`, or nil when only ``StepNode/apply(_:_:)`` decides it.
    func value(utf8: UnsafeBufferPointer<UInt8>) -> JSONValue?
}

extension NameStep: ByteValueStep {
    func value(utf8: UnsafeBufferPointer<UInt8>) -> JSONValue? { PersonName.display(utf8: utf8).map(JSONValue.string) }
}

extension EmailStep: ByteValueStep {
    func value(utf8: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        EmailAddress.normalizedPlain(utf8: utf8).map(JSONValue.string)
    }
}

extension PhoneStep: ByteValueStep {
    func value(utf8: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        guard let home else { return nil }
        return PhoneNumber.plainE164(utf8: utf8, home: home).map(JSONValue.string)
    }
}

/// A pipeline over a root member (or a root member's member with a slot of its own) whose steps are byte text steps
/// and then one ``ByteValueStep``: evaluated on the member's bytes when the parse kept them, else as `general`, the
/// same pipeline on values.
final class RootTextNode: ValueNode {
    /// The root slot of the member (see ``Evaluator/rootText(_:)``).
    let slot: Int
    /// The byte text steps before `last` (nil: none).
    let steps: ByteTextSteps?
    let last: any ByteValueStep
    /// The same pipeline on values.
    let general: any ValueNode

    /// The byte form of `PipeNode(source, step)`, or nil when it has none: `step` makes values of bytes and `source` is
    /// a root member's slot after byte text steps only.
    init?(_ source: any ValueNode, step: any StepNode) {
        guard let last = step as? any ByteValueStep else { return nil }
        var node = source
        var steps: [any ByteTextStep] = []
        while let pipe = node as? PipeNode, let step = pipe.step as? any ByteTextStep {
            steps.append(step)
            node = pipe.source
        }
        if let member = node as? MemberNode, let entry = member.rootEntry {
            slot = entry
        } else if let members = node as? MembersNode, members.keys.count == 2, let nested = members.nestedSlot {
            slot = nested
        } else {
            return nil
        }
        self.steps = ByteTextSteps(steps.reversed())
        self.last = last
        general = PipeNode(source, step: step)
    }

    func value(_ ev: Evaluator, _ cur: JSONValue) throws(FieldFailure) -> JSONValue {
        if let text = ev.rootText(slot), let made = value(utf8: text) { return made }
        return try general.value(ev, cur)
    }

    /// The pipeline's value of the UTF-8 text `text`, or nil when its steps do not decide it.
    private func value(utf8 text: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        guard let steps else { return last.value(utf8: text) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { scratch in
            let low = UnsafeMutableBufferPointer(rebasing: scratch[..<256])
            let high = UnsafeMutableBufferPointer(rebasing: scratch[256...])
            switch steps.text(text, low: low, high: high) {
            case .text(let t): return last.value(utf8: t)
            // The steps' null: every byte value step passes null on.
            case .null: return .null
            case .general: return nil
            }
        }
    }
}
