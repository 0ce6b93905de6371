import CRMModel

/// How the fields of an output are written straight into JSON bytes, worked out at load time.
///
/// The tree path (``Evaluator/object(_:_:)``, then ``JSONValue/encode(into:)``) appends the present fields in order
/// and nests dotted names, putting each nested object where its first present field is. When the fields of every
/// nested object are contiguous in the field list (at every level) and no field's whole name is also the name of a
/// nested object, that order does not depend on which fields are present: the fields can be written as they are
/// evaluated, each one closing the nested objects it has left and opening the ones it is in. The bytes are then
/// exactly those of the encoded tree. For any other field list there is no layout and the tree path is used.
///
/// Everything a record reads from the layout is plain integers into ``members``, ``groups`` and ``bytes`` (and
/// unretained field nodes): reading it retains nothing. A class, so an output reads it with one retain (a struct
/// retained each of its arrays).
final class OutputLayout: Sendable {
    /// One field's place in the written object.
    struct Member: Sendable {
        /// The nested objects the field is in, outermost first: `groups[groupStart..<groupEnd]`.
        let groupStart: Int
        let groupEnd: Int
        /// `,"name":` for the field's own member (the last part of its dotted name): `bytes[nameStart..<nameEnd]`;
        /// the first member of an object leaves out the comma.
        let nameStart: Int
        let nameEnd: Int
        /// Where validation finds this field's value (see ``validatedNames``), or -1 when it does not read it.
        let slot: Int
        /// Whether the value is written by the field's ``FieldNode/direct`` form (it has one, and validation does not
        /// read the value).
        let direct: Bool
    }

    /// A nested object a field is in.
    struct Group: Sendable {
        /// Equal ids are the same nested object.
        let id: Int
        /// `,"name":{`: `bytes[openingStart..<openingEnd]` (the comma left out when it is the first member).
        let openingStart: Int
        let openingEnd: Int
    }

    /// Per field, in field order.
    let members: [Member]
    /// The field nodes, in field order, unretained: the output's `fields` array holds them.
    let nodes: [Unmanaged<FieldNode>]
    let groups: [Group]
    /// The encoded member names and openings.
    let bytes: [UInt8]
    /// The top-level names validation reads (the entity's ``CanonicalEntity/validatedFieldList``), by slot: the
    /// record's member of that name is the last present field with that slot.
    let validatedNames: [String]

    /// The layout of `fields`, or nil when the tree path is needed: a nested object's fields are not contiguous, a
    /// field's whole name is also a nested object's name, or validation reads a member that is a nested object.
    init?(fields: [FieldNode], validated: [String]) {
        // Every proper prefix of a dotted name is a nested object; its fields must form one run.
        var groupIDs: [[String]: Int] = [:]
        var lastIndex: [[String]: Int] = [:]
        for (k, f) in fields.enumerated() {
            for depth in 1..<max(f.parts.count, 1) {
                let prefix = Array(f.parts[0..<depth])
                if let previous = lastIndex[prefix], previous != k - 1 { return nil }
                lastIndex[prefix] = k
                if groupIDs[prefix] == nil { groupIDs[prefix] = groupIDs.count }
            }
        }
        for f in fields where groupIDs[f.parts] != nil { return nil }
        if validated.contains(where: { groupIDs[[$0]] != nil }) { return nil }

        var members: [Member] = []
        var groups: [Group] = []
        var bytes: [UInt8] = []
        for f in fields {
            let groupStart = groups.count
            for depth in 1..<max(f.parts.count, 1) {
                let start = bytes.count
                bytes += OutputLayout.memberName(f.parts[depth - 1]) + [UInt8(ascii: "{")]
                groups.append(
                    Group(id: groupIDs[Array(f.parts[0..<depth])]!, openingStart: start, openingEnd: bytes.count))
            }
            var slot = -1
            if f.parts.count == 1, let k = validated.firstIndex(of: f.name) { slot = k }
            let nameStart = bytes.count
            bytes += OutputLayout.memberName(f.parts.last!)
            members.append(
                Member(
                    groupStart: groupStart, groupEnd: groups.count, nameStart: nameStart, nameEnd: bytes.count,
                    slot: slot, direct: slot < 0 && f.direct != nil))
        }
        self.members = members
        nodes = fields.map { Unmanaged.passUnretained($0) }
        self.groups = groups
        self.bytes = bytes
        validatedNames = validated
    }

    /// `,"name":` as JSON.
    static func memberName(_ name: String) -> [UInt8] {
        var w = JSONWriter(capacity: name.utf8.count + 8)
        w.write(byte: UInt8(ascii: ","))
        w.writeString(name)
        w.write(byte: UInt8(ascii: ":"))
        return w.finish()
    }
}

extension Evaluator {
    /// The compact JSON of the object made of `fields` at `cur` (the bytes of ``object(_:_:)``'s value, encoded),
    /// written in the order of `layout`, and the problems `validation` finds with it (empty without one).
    func objectJSON(
        _ fields: [FieldNode], _ layout: OutputLayout, _ cur: JSONValue, validation: CanonicalEntity?
    ) throws(FieldFailure) -> (json: [UInt8], problems: [String]) {
        // The values validation reads, by slot: those of the last present field of each validated name.
        try withUnsafeTemporaryAllocation(of: JSONValue?.self, capacity: layout.validatedNames.count) {
            (validated) throws(FieldFailure) -> (json: [UInt8], problems: [String]) in
            validated.initialize(repeating: nil)
            defer { validated.deinitializeValues() }
            let json = try objectJSON(fields, layout, cur, validated: validated)
            guard let validation else { return (json, []) }
            // The slots are the positions of `validation.validatedFieldList` (see `validatedNames`).
            let problems = validation.validate(members: UnsafeBufferPointer(validated))
            return (json, problems)
        }
    }

    /// ``objectJSON(_:_:_:validation:)``'s writing; `validated[slot]` receives each present field's value that
    /// validation reads.
    private func objectJSON(
        _ fields: [FieldNode], _ layout: OutputLayout, _ cur: JSONValue,
        validated: UnsafeMutableBufferPointer<JSONValue?>
    ) throws(FieldFailure) -> [UInt8] {
        // Room for a typical record (the crm-customer-import output is about 600 bytes) without growing, on the stack
        // (1 KiB is the most a temporary allocation takes there without a check), and for the text of fields written
        // directly.
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { (memory) throws(FieldFailure) -> [UInt8] in
            try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) {
                (scratch) throws(FieldFailure) -> [UInt8] in
                try objectJSON(
                    fields, layout, cur, validated: validated, scratch: scratch, into: JSONWriter(memory: memory))
            }
        }
    }

    /// ``objectJSON(_:_:_:validated:)`` with `writer`, and `scratch` for the fields written directly.
    private func objectJSON(
        _ fields: [FieldNode], _ layout: OutputLayout, _ cur: JSONValue,
        validated: UnsafeMutableBufferPointer<JSONValue?>, scratch: UnsafeMutableBufferPointer<UInt8>,
        into writer: consuming JSONWriter
    ) throws(FieldFailure) -> [UInt8] {
        writer.write(byte: UInt8(ascii: "{"))
        var position = LayoutPosition()
        // The field nodes are called through unretained references (`fields`, borrowed for the call, holds them):
        // reading them out of the array retained and released each one for its call.
        try layout.members.withUnsafeBufferPointer { (members) throws(FieldFailure) in
            try layout.nodes.withUnsafeBufferPointer { (nodes) throws(FieldFailure) in
                try layout.groups.withUnsafeBufferPointer { (groups) throws(FieldFailure) in
                    try layout.bytes.withUnsafeBufferPointer { (bytes) throws(FieldFailure) in
                        for k in nodes.indices {
                            let m = members[k]
                            if m.direct {
                                let mark = writer.writtenCount
                                position.writeName(of: m, groups: groups, bytes: bytes, into: &writer)
                                switch nodes[k].writeDirect(ev: self, cur, into: &writer, scratch: scratch) {
                                case .written:
                                    position.entered(m)
                                    continue
                                case .absent:
                                    writer.truncate(to: mark)
                                    continue
                                case .general:
                                    writer.truncate(to: mark)
                                }
                            }
                            guard let v = try nodes[k].member(ev: self, cur) else { continue }
                            position.writeName(of: m, groups: groups, bytes: bytes, into: &writer)
                            writer.write(v)
                            position.entered(m)
                            // The value is not used after this: validation takes it without a copy.
                            if m.slot >= 0 { validated[m.slot] = consume v }
                        }
                    }
                }
            }
        }
        position.close(into: &writer)
        writer.write(byte: UInt8(ascii: "}"))
        return writer.finish()
    }
}

/// Where a laid-out record's writing is: the nested objects open, and whether the innermost has a member yet.
struct LayoutPosition {
    /// The nested objects now open: `groups[openStart..<openEnd]`, those of the last field written.
    var openStart = 0
    var openEnd = 0
    /// Whether the innermost open object has no member yet (no comma before the next one).
    var empty = true

    /// Writes what comes before the value of the field `m`: the ends of the nested objects it is not in, the
    /// openings of those it is in that are not open, and its name. The position is unchanged (see ``entered(_:)``).
    @inline(__always)
    func writeName(
        of m: OutputLayout.Member, groups: UnsafeBufferPointer<OutputLayout.Group>, bytes: UnsafeBufferPointer<UInt8>,
        into writer: inout JSONWriter
    ) {
        // The nested objects this field shares with the last one stay open.
        var shared = 0
        while openStart + shared < openEnd && m.groupStart + shared < m.groupEnd
            && groups[openStart + shared].id == groups[m.groupStart + shared].id
        {
            shared += 1
        }
        for _ in (openStart + shared)..<openEnd { writer.write(byte: UInt8(ascii: "}")) }
        var first = empty
        for g in (m.groupStart + shared)..<m.groupEnd {
            let start = groups[g].openingStart + (first ? 1 : 0)
            writer.write(bytes: UnsafeBufferPointer(rebasing: bytes[start..<groups[g].openingEnd]))
            first = true
        }
        let start = m.nameStart + (first ? 1 : 0)
        writer.write(bytes: UnsafeBufferPointer(rebasing: bytes[start..<m.nameEnd]))
    }

    /// The position after the value of the field `m`.
    @inline(__always)
    mutating func entered(_ m: OutputLayout.Member) {
        empty = false
        openStart = m.groupStart
        openEnd = m.groupEnd
    }

    /// Writes the ends of the nested objects still open.
    @inline(__always)
    func close(into writer: inout JSONWriter) {
        for _ in openStart..<openEnd { writer.write(byte: UInt8(ascii: "}")) }
    }
}
