import CRMModel

/// How the fields of an output are written straight into JSON bytes, worked out at load time.
///
/// The tree path (``Evaluator/object(_:_:)``, then ``JSONValue/encode(into:)``) appends the present fields in order
/// and nests dotted names, putting each nested object where its first present field is. When the fields of every
/// nested object are contiguous in the field list (at every level) and no field's whole name is also the name of a
/// nested object, that order does not depend on which fields are present: the fields can be written as they are
/// evaluated, each one closing the nested objects it has left and opening the ones it is in. The bytes are then
/// exactly those of the encoded tree. For any other field list there is no layout and the tree path is used.
struct OutputLayout: Sendable {
    /// One field's place in the written object.
    struct Member: Sendable {
        /// The nested objects the field is in, outermost first, as ids: equal ids are the same nested object.
        let groups: [Int]
        /// `"name":{` for each of ``groups``.
        let openings: [[UInt8]]
        /// `"name":` for the field's own member (the last part of its dotted name).
        let name: [UInt8]
        /// Where validation finds this field's value (see ``validatedNames``), or -1 when it does not read it.
        let slot: Int
    }

    /// Per field, in field order.
    let members: [Member]
    /// The top-level names validation reads that some field writes, by slot: the record's member of that name is the
    /// last present field with that slot.
    let validatedNames: [String]

    /// The layout of `fields`, or nil when the tree path is needed: a nested object's fields are not contiguous, a
    /// field's whole name is also a nested object's name, or validation reads a member that is a nested object.
    init?(fields: [FieldNode], validated: Set<String>) {
        // Every proper prefix of a dotted name is a nested object; its fields must form one run.
        var groupIDs: [[String]: Int] = [:]
        var lastIndex: [[String]: Int] = [:]
        var groupsOfField: [[Int]] = []
        for (k, f) in fields.enumerated() {
            var groups: [Int] = []
            for depth in 1..<max(f.parts.count, 1) {
                let prefix = Array(f.parts[0..<depth])
                if let previous = lastIndex[prefix], previous != k - 1 { return nil }
                lastIndex[prefix] = k
                if groupIDs[prefix] == nil { groupIDs[prefix] = groupIDs.count }
                groups.append(groupIDs[prefix]!)
            }
            groupsOfField.append(groups)
        }
        for f in fields where groupIDs[f.parts] != nil { return nil }
        if validated.contains(where: { groupIDs[[$0]] != nil }) { return nil }

        var names: [String] = []
        var members: [Member] = []
        for (k, f) in fields.enumerated() {
            var slot = -1
            if f.parts.count == 1 && validated.contains(f.name) {
                if let known = names.firstIndex(of: f.name) {
                    slot = known
                } else {
                    slot = names.count
                    names.append(f.name)
                }
            }
            let openings = f.parts.dropLast().map { OutputLayout.memberName($0) + [UInt8(ascii: "{")] }
            members.append(
                Member(groups: groupsOfField[k], openings: openings, name: OutputLayout.memberName(f.parts.last!), slot: slot))
        }
        self.members = members
        validatedNames = names
    }

    /// `"name":` as JSON.
    static func memberName(_ name: String) -> [UInt8] {
        var w = JSONWriter(capacity: name.utf8.count + 8)
        w.writeString(name)
        w.write(byte: UInt8(ascii: ":"))
        return w.finish()
    }
}

extension Evaluator {
    /// The compact JSON of the object made of `fields` at `cur` (the bytes of ``object(_:_:)``'s value, encoded),
    /// written in the order of `layout`; `validated[slot]` receives the value of the last present field of each of
    /// the layout's validated names.
    func objectJSON(
        _ fields: [FieldNode], _ layout: OutputLayout, _ cur: JSONValue, validated: inout [JSONValue?]
    ) throws(FieldFailure) -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        writer.write(byte: UInt8(ascii: "{"))
        // The nested objects now open are the first `open` groups of the last written field.
        var open = 0
        var lastWritten = -1
        // Whether the innermost open object has no member yet (no comma before the next one).
        var empty = true
        for k in fields.indices {
            guard let v = try member(fields[k], cur) else { continue }
            let m = layout.members[k]
            var shared = 0
            if lastWritten >= 0 {
                let previous = layout.members[lastWritten].groups
                while shared < open && shared < m.groups.count && previous[shared] == m.groups[shared] { shared += 1 }
            }
            for _ in shared..<open { writer.write(byte: UInt8(ascii: "}")) }
            for g in shared..<m.groups.count {
                if !empty { writer.write(byte: UInt8(ascii: ",")) }
                writer.write(bytes: m.openings[g])
                empty = true
            }
            if !empty { writer.write(byte: UInt8(ascii: ",")) }
            writer.write(bytes: m.name)
            writer.write(v)
            empty = false
            open = m.groups.count
            lastWritten = k
            if m.slot >= 0 { validated[m.slot] = v }
        }
        for _ in 0..<open { writer.write(byte: UInt8(ascii: "}")) }
        writer.write(byte: UInt8(ascii: "}"))
        return writer.finish()
    }
}
