import CRMModel
import CRMYAML

/// An executable mapping: parsed, checked and immutable. Safe to share between tasks and threads.
public struct CompiledMapping: Sendable {
    /// Everything the mapping holds, behind one reference: a copy of a mapping (an import reads it out of its state
    /// for every row) is one retain and one release, not one for each of its parts.
    let parts: Parts

    /// Mapping name (`name:` in the file).
    public var name: String { parts.name }
    /// Content hash of the file and everything it includes (hex FNV-1a 64), e.g. for DLQ headers.
    public var version: String { parts.version }
    /// Free-text source description (`input:`).
    public var input: String { parts.input }
    /// Entities this mapping produces, in output order.
    public var entities: [String] { outputs.map(\.entity) }
    /// The file the mapping came from.
    public var file: String { parts.file }
    /// Inline test cases declared in the file.
    public var tests: [MappingTestCase] { parts.tests }
    /// The services its fields look up (`lookup: {service: NAME}`), which the hub must provide.
    public var services: Set<String> { parts.services }

    var outputs: [OutputPlan] { parts.outputs }
    var dropWhenPlan: Cond? { parts.dropWhenPlan }
    var filterPlan: Cond? { parts.filterPlan }
    /// The outputs, `drop_when` and `filter` in executable form (see Nodes.swift).
    var outputNodes: [OutputNode] { parts.outputNodes }
    var dropWhen: (any ConditionNode)? { parts.dropWhen }
    var filter: (any ConditionNode)? { parts.filter }
    /// The member names the mapping's paths read: parsed messages name those members with these strings.
    var memberNames: JSONMemberNames { parts.memberNames }
    /// How many values an evaluation keeps (``Evaluator/made``): those of the repeated expressions.
    var madeCount: Int { parts.madeCount }
    /// The root members' members that parsed messages put in slots of their own (see ``RootReads``).
    var nestedMembers: JSONNestedMembers { parts.nestedMembers }
    /// The root arrays of strings that parsed messages keep as byte ranges (see ``RootReads``).
    var textLists: JSONTextLists { parts.textLists }
    /// Whether `textLists` names any.
    var keepsTextLists: Bool { parts.keepsTextLists }
    /// The slots of the nested members read: by root entry, then by member name (see ``RootReads/nestedSlots(_:)``).
    var nestedSlots: [Int: [String: Int]] { parts.nestedSlots }
    /// How many items of kept arrays a message has room for (more: its arrays are read as values).
    static var listItemCapacity: Int { 16 }

    init(
        name: String, version: String, input: String, file: String, outputs: [OutputPlan], dropWhen: Cond?,
        filter: Cond?, tests: [MappingTestCase], services: Set<String>, sharingRepeated: Bool = true
    ) {
        parts = Parts(
            name: name, version: version, input: input, file: file, outputs: outputs, dropWhen: dropWhen,
            filter: filter, tests: tests, services: services, sharingRepeated: sharingRepeated)
    }

    /// This mapping with every expression computed at each use (no ``MemoNode``): the reference for tests.
    func computingEveryUse() -> CompiledMapping {
        CompiledMapping(
            name: name, version: version, input: input, file: file, outputs: outputs, dropWhen: dropWhenPlan,
            filter: filterPlan, tests: tests, services: services, sharingRepeated: false)
    }

    /// Parses `input` as JSON (validating UTF-8, depth and size) and applies the mapping.
    ///
    /// Records are written directly as JSON (their ``MappedRecord/jsonBytes()``) where the output allows it and the
    /// mapping uses no lookup service, unless `context.recordValues` asks for ``JSONValue`` trees.
    public func apply(
        _ input: [UInt8], context: MappingContext = MappingContext()
    ) throws(MappingError) -> MappingResult {
        let writingJSON = services.isEmpty && !context.recordValues
        return try withRootSlots { (memory, texts) throws(MappingError) -> MappingResult in
            // The kept arrays of strings, by name-table entry, then their items.
            let lists = keepsTextLists ? memberNames.count : 0
            let items = keepsTextLists ? CompiledMapping.listItemCapacity : 0
            return try withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: lists + items) {
                (listMemory) throws(MappingError) -> MappingResult in
                listMemory.initialize(repeating: JSONValue.noRootText)
                let rootLists = UnsafeMutableBufferPointer(rebasing: listMemory[0..<lists])
                let listItems = UnsafeMutableBufferPointer(rebasing: listMemory[lists...])
                return try apply(
                    input, context: context, writingJSON: writingJSON, memory: memory, texts: texts,
                    lists: rootLists, items: listItems)
            }
        }
    }

    /// Calls `body` with the memory of one apply from root slots, borrowed for the call: `memory`, all nil, holds the
    /// root values (one per name of the member-name table, then one per nested member), the values an evaluation
    /// keeps (``Evaluator/made``) and the whole message (made when an expression needs it, see ``Evaluator/root``);
    /// `texts`, all ``JSONValue/noRootText``, the byte ranges of the root strings, one per root value (their strings
    /// are made when read).
    private func withRootSlots<R>(
        _ body: (UnsafeMutableBufferPointer<JSONValue?>, UnsafeMutableBufferPointer<Range<Int>>) throws(MappingError) ->
            R
    ) throws(MappingError) -> R {
        let names = memberNames.count + nestedMembers.count
        return try withUnsafeTemporaryAllocation(of: JSONValue?.self, capacity: names + madeCount + 1) {
            (memory) throws(MappingError) -> R in
            memory.initialize(repeating: nil)
            defer { memory.deinitializeValues() }
            return try withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: names) {
                (texts) throws(MappingError) -> R in
                texts.initialize(repeating: JSONValue.noRootText)
                return try body(memory, texts)
            }
        }
    }

    /// Applies the mapping to the message whose root slots ``withRootSlots(_:)`` gave (`memory`, `texts`) and were
    /// filled from `input` (`lists`: the kept arrays), made whole as `whole` says.
    private func apply(
        slots memory: UnsafeMutableBufferPointer<JSONValue?>, texts: UnsafeMutableBufferPointer<Range<Int>>,
        lists: Evaluator.TextLists, whole: Evaluator.Whole, input: UnsafeBufferPointer<UInt8>, context: MappingContext,
        writingJSON: Bool
    ) throws(MappingError) -> MappingResult {
        let names = texts.count
        let source = Evaluator.Root.values(
            UnsafeMutableBufferPointer(rebasing: memory[0..<names]), texts: UnsafeBufferPointer(texts), lists: lists,
            whole: whole, input: input, cache: memory.baseAddress! + names + madeCount)
        return try apply(
            Evaluator(
                values: source, lookup: context.lookup,
                made: UnsafeMutableBufferPointer(rebasing: memory[names..<(names + madeCount)])),
            current: .null, writingJSON: writingJSON)
    }

    /// ``apply(_:context:)`` with its memory: the root slots, the values kept and the whole message (`memory`), the
    /// root texts, the kept arrays and their items (all borrowed for the call).
    private func apply(
        _ input: [UInt8], context: MappingContext, writingJSON: Bool, memory: UnsafeMutableBufferPointer<JSONValue?>,
        texts: UnsafeMutableBufferPointer<Range<Int>>, lists: UnsafeMutableBufferPointer<Range<Int>>,
        items: UnsafeMutableBufferPointer<Range<Int>>
    ) throws(MappingError) -> MappingResult {
        let names = texts.count
        let values = UnsafeMutableBufferPointer(rebasing: memory[0..<names])
        let whole: JSONValue?
        do throws(JSONError) {
            whole = try JSONValue.parse(
                input, limits: context.limits, memberNames: memberNames, rootValues: values, rootTexts: texts,
                nested: nestedMembers, textLists: textLists, rootLists: lists, listItems: items)
        } catch {
            throw MappingError(
                kind: .input, mapping: name, field: "", value: "\(input.count) bytes",
                reason: error.description)
        }
        // Not an object: refused as a document given as a tree is.
        if let whole {
            return try apply(
                whole, context: context, rootIndex: UnsafeBufferPointer(start: nil, count: 0),
                writingJSON: writingJSON)
        }
        return try input.withUnsafeBufferPointer { (bytes) throws(MappingError) -> MappingResult in
            try apply(
                slots: memory, texts: texts,
                lists: Evaluator.TextLists(lists: UnsafeBufferPointer(lists), items: UnsafeBufferPointer(items)),
                whole: .json(input, context.limits), input: bytes, context: context, writingJSON: writingJSON)
        }
    }

    /// Applies the mapping to an already parsed document.
    ///
    /// A document without numbers (a CSV row: text by column) is written directly as JSON like byte input; one with
    /// numbers gives trees, since a caller's `.number` may hold any text.
    public func apply(
        _ input: JSONValue, context: MappingContext = MappingContext()
    ) throws(MappingError) -> MappingResult {
        try apply(
            input, context: context, rootIndex: UnsafeBufferPointer(start: nil, count: 0),
            writingJSON: services.isEmpty && !context.recordValues && !Self.holdsNumber(input))
    }

    /// Where the mapping's member names are among the root members of documents that all have the same members in
    /// the same order (the rows of one CSV file, laid out once from its header): made once, then passed to
    /// ``apply(_:layout:context:)`` for each document instead of searching each member by name.
    public struct RootLayout: Sendable {
        /// The position among the root members of the last one named by each entry of the mapping's member-name
        /// table; -1 when no member has that name.
        let index: [Int]
        /// How many root members the documents have.
        let memberCount: Int
    }

    /// The layout of documents whose root object's members are named `rootMembers`, in this order.
    public func rootLayout(rootMembers: [String]) -> RootLayout {
        var index = [Int](repeating: -1, count: memberNames.count)
        for (position, name) in rootMembers.enumerated() {
            if let entry = memberNames.index(of: name) { index[entry] = position }
        }
        return RootLayout(index: index, memberCount: rootMembers.count)
    }

    /// Applies the mapping to a document made of text only (strings and objects, no numbers) whose root object has
    /// the members `layout` was made for, in that order: a CSV row. The result is that of ``apply(_:context:)``;
    /// the members are found by position and the scan for numbers is left out. A document whose root is not an
    /// object of `layout`'s size is applied as ``apply(_:context:)`` applies it.
    public func apply(
        _ input: JSONValue, layout: RootLayout, context: MappingContext = MappingContext()
    ) throws(MappingError) -> MappingResult {
        guard case .object(let members) = input, members.count == layout.memberCount else {
            return try apply(input, context: context)
        }
        assert(!Self.holdsNumber(input), "apply(_:layout:context:) takes documents of text only")
        return try layout.index.withUnsafeBufferPointer { (rootIndex) throws(MappingError) -> MappingResult in
            try apply(
                input, context: context, rootIndex: rootIndex,
                writingJSON: services.isEmpty && !context.recordValues)
        }
    }

    /// Where the columns of rows that all have the same columns (a CSV file's, laid out by its header) go among the
    /// mapping's root slots: made once by ``columnLayout(header:)``, then passed to
    /// ``apply(columns:ends:layout:context:)`` for each row, which reads the columns' texts as a parse reads a
    /// message's strings, without a string or a tree per row.
    public final class ColumnLayout: Sendable {
        /// The row's object, for a mapping that reads it whole.
        let object: ColumnObject
        /// Each column's slot: its root member's name-table entry or its nested member's slot; -1 when the mapping
        /// does not read it.
        let slots: [Int]

        init(object: ColumnObject, slots: [Int]) {
            self.object = object
            self.slots = slots
        }
    }

    /// The layout of rows whose columns have the paths `header` (one per column, in order): the row's object is the
    /// one ``JSONValue/set(path:to:)`` makes when it sets every column's path to the column's text. Nil when the
    /// mapping reads such objects in a way a layout cannot follow (then apply the row's object): it reads whole a
    /// member that has columns under it, reads a member that is both a column and has columns under it, or reads
    /// under columns more than two names deep.
    public func columnLayout(header: [[String]]) -> ColumnLayout? {
        ColumnObject(paths: header).flatMap(columnLayout(rows:))
    }

    /// ``columnLayout(header:)`` for rows whose object `rows` describes.
    public func columnLayout(rows: ColumnObject) -> ColumnLayout? {
        let header = rows.paths
        let entries = header.map { path in path.first.flatMap { memberNames.index(of: $0) } }
        // Root members read by the mapping that are a column and have columns under them.
        let leaves = Set(zip(header, entries).compactMap { $0.0.count == 1 ? $0.1 : nil })
        let parents = Set(zip(header, entries).compactMap { $0.0.count > 1 ? $0.1 : nil })
        guard leaves.isDisjoint(with: parents) else { return nil }
        var slots: [Int] = []
        slots.reserveCapacity(header.count)
        for (path, entry) in zip(header, entries) {
            guard let entry else {
                slots.append(-1)
                continue
            }
            let members = nestedSlots[entry]
            switch path.count {
            // A member read by its members only: a text has none.
            case 1: slots.append(members == nil ? entry : -1)
            case 2:
                // A member with columns under it read whole.
                guard let members else { return nil }
                slots.append(members[path[1]] ?? -1)
            default: return nil
            }
        }
        return ColumnLayout(object: rows, slots: slots)
    }

    /// Applies the mapping to a row of text columns laid out by `layout`: `text` holds the columns' texts (valid
    /// UTF-8) one after the other, column `k` ending at `ends[k]`. The result is that of ``apply(_:context:)`` for
    /// the row's object (see ``columnLayout(header:)``).
    public func apply(
        columns text: [UInt8], ends: [Int], layout: ColumnLayout, context: MappingContext = MappingContext()
    ) throws(MappingError) -> MappingResult {
        precondition(
            ends.count == layout.slots.count, "a row of \(ends.count) columns for a layout of \(layout.slots.count)")
        let writingJSON = services.isEmpty && !context.recordValues
        return try withRootSlots { (memory, texts) throws(MappingError) -> MappingResult in
            try text.withUnsafeBufferPointer { (input) throws(MappingError) -> MappingResult in
                // A column's text goes to its slot as a parse puts a string there: its range when it needs no
                // escape, else the string (a later column of the same slot wins).
                var start = 0
                for (column, end) in ends.enumerated() {
                    defer { start = end }
                    let slot = layout.slots[column]
                    guard slot >= 0 else { continue }
                    let field = UnsafeBufferPointer(rebasing: input[start..<end])
                    if JSONWriter.needsEscape(field) {
                        memory[slot] = .string(String(decoding: field, as: UTF8.self))
                        texts[slot] = JSONValue.noRootText
                    } else {
                        memory[slot] = nil
                        texts[slot] = start..<end
                    }
                }
                return try apply(
                    slots: memory, texts: texts, lists: .none, whole: .columns(layout, ends: ends), input: input,
                    context: context, writingJSON: writingJSON)
            }
        }
    }

    /// Whether `value` holds a number anywhere.
    private static func holdsNumber(_ value: JSONValue) -> Bool {
        switch value {
        case .number: true
        case .null, .bool, .string: false
        case .array(let items): items.contains(where: holdsNumber)
        case .object(let members): members.contains { holdsNumber($0.1) }
        }
    }

    /// Calls `body` with room for the values an evaluation keeps (``Evaluator/made``), all nil.
    private func withMade<R>(
        _ body: (UnsafeMutableBufferPointer<JSONValue?>) throws(MappingError) -> R
    ) throws(MappingError) -> R {
        try withUnsafeTemporaryAllocation(of: JSONValue?.self, capacity: madeCount) {
            (made) throws(MappingError) -> R in
            made.initialize(repeating: nil)
            defer { made.deinitializeValues() }
            return try body(made)
        }
    }

    /// Applies the mapping; `rootIndex` finds the root object's members by entry of ``memberNames`` (empty: by name;
    /// borrowed for the call).
    ///
    /// With `writingJSON`, outputs that have a layout are written directly as JSON bytes (the records'
    /// ``MappedRecord/jsonBytes()``) instead of as a tree. `writingJSON` needs every number the records can hold to be
    /// valid JSON text, which ``MappedRecord/value`` decodes: true for a parsed message and a mapping without lookup
    /// services (numbers come from the message, the mapping file or the runtime's own rendering), not for a caller's
    /// `JSONValue` or a service's answers.
    func apply(
        _ input: JSONValue, context: MappingContext, rootIndex: UnsafeBufferPointer<Int>, writingJSON: Bool
    ) throws(MappingError) -> MappingResult {
        guard case .object = input else {
            throw MappingError(
                kind: .input, mapping: name, field: "", value: redact(input),
                reason: "the message must be a JSON object, found \(input.typeName)")
        }
        return try withMade { (made) throws(MappingError) -> MappingResult in
            try apply(
                Evaluator(root: input, lookup: context.lookup, rootIndex: rootIndex, made: made), current: input,
                writingJSON: writingJSON)
        }
    }

    /// Applies the mapping to the message of `ev` (a JSON object). `input` is the current value of the expressions at
    /// the root: the message, or `.null` when `ev` reads it member by member (the nodes lowered at the root then read
    /// it as ``Evaluator/root``).
    private func apply(
        _ ev: Evaluator, current input: JSONValue, writingJSON: Bool
    ) throws(MappingError)
        -> MappingResult
    {
        do throws(FieldFailure) {
            if let dropWhen, try dropWhen.holds(ev, input) { return .dropped(reason: "drop_when matched") }
            if let filter, !(try filter.holds(ev, input)) { return .dropped(reason: "filter did not match") }
        } catch {
            throw MappingError(
                kind: .field, mapping: name, field: "drop_when", value: error.value, reason: error.reason)
        }
        var records: [MappedRecord] = []
        records.reserveCapacity(outputNodes.count)
        for out in outputNodes {
            /// The record as a tree, or as JSON with its validation problems.
            enum Body {
                case tree(JSONValue)
                case json([UInt8], problems: [String])
            }
            let body: Body
            let keyValue: JSONValue
            do throws(FieldFailure) {
                if let w = out.when, !(try w.holds(ev, input)) { continue }
                if writingJSON, let layout = out.layout {
                    let (json, problems) = try ev.objectJSON(out.fields, layout, input, validation: out.canonical)
                    body = .json(json, problems: problems)
                } else {
                    body = .tree(try ev.object(out.fields, input))
                }
                keyValue = try out.key.value(ev, input)
            } catch {
                throw MappingError(
                    kind: .field, mapping: name, field: out.entity + (error.field.isEmpty ? "" : "." + error.field),
                    value: error.value, reason: error.reason)
            }
            guard let key = keyValue.scalarText, !key.isEmpty else {
                throw MappingError(
                    kind: .field, mapping: name, field: out.entity + ".key", value: redact(keyValue),
                    reason: "record key is missing or not a scalar")
            }
            if let c = out.canonical {
                let problems: [String]
                switch body {
                case .tree(let value): problems = c.validate(value)
                case .json(_, let found): problems = found
                }
                if !problems.isEmpty {
                    throw MappingError(
                        kind: .validation, mapping: name, field: out.entity, value: "",
                        reason: problems.joined(separator: "; "))
                }
            }
            switch body {
            case .tree(let value): records.append(MappedRecord(entity: out.entity, key: key, value: value))
            case .json(let json, _): records.append(MappedRecord(entity: out.entity, key: key, json: json))
            }
        }
        return .output(records)
    }
}

/// One inline test case from a mapping file's `tests:` list.
public struct MappingTestCase: Sendable {
    /// What the case is expected to produce.
    public enum Expectation: Sendable {
        /// Entity name → exact record body; optional keys.
        case records([String: JSONValue], keys: [String: String])
        /// The message is dropped.
        case dropped
        /// An error whose description contains the text.
        case error(String)
    }
    public var name: String
    /// Raw message bytes (from `input:` converted to JSON, or `input_json:` verbatim).
    public var input: [UInt8]
    public var expectation: Expectation
    /// Stand-ins for lookup services (`lookups: {SERVICE: {KEY: VALUE}}`): service → key → value.
    public var lookups: [String: [String: JSONValue]] = [:]
    public var location: SourceLocation
}

/// The outcome of one inline test case.
public struct MappingTestOutcome: Sendable {
    public var mapping: String
    public var test: String
    public var passed: Bool
    /// Why it failed (empty when passed).
    public var detail: String
    public var location: SourceLocation
}

extension CompiledMapping {
    /// Runs the inline tests with `context` (a lookup may be supplied for `lookup: {service: ...}` fields; a case's
    /// own `lookups:` take its place).
    public func runTests(context: MappingContext = MappingContext()) -> [MappingTestOutcome] {
        tests.map { t in
            func outcome(_ ok: Bool, _ detail: String) -> MappingTestOutcome {
                MappingTestOutcome(mapping: name, test: t.name, passed: ok, detail: detail, location: t.location)
            }
            // A case's `lookups:` stand in for the services it uses.
            var context = context
            if !t.lookups.isEmpty { context.lookup = StaticLookup(t.lookups) }
            let result: Result<MappingResult, MappingError>
            do throws(MappingError) { result = .success(try apply(t.input, context: context)) } catch {
                result = .failure(error)
            }
            switch (t.expectation, result) {
            case (.error(let want), .failure(let e)):
                return e.description.contains(want)
                    ? outcome(true, "") : outcome(false, "error '\(e)' does not contain '\(want)'")
            case (.error(let want), .success(let r)):
                return outcome(false, "expected an error containing '\(want)', got \(r)")
            case (.dropped, .success(.dropped)):
                return outcome(true, "")
            case (.dropped, let r):
                return outcome(false, "expected the message to be dropped, got \(r)")
            case (.records, .failure(let e)):
                return outcome(false, "unexpected error: \(e)")
            case (.records, .success(.dropped(let reason))):
                return outcome(false, "unexpected drop: \(reason)")
            case (.records(let want, let keys), .success(.output(let got))):
                var problems: [String] = []
                let gotByEntity = Dictionary(got.map { ($0.entity, $0) }, uniquingKeysWith: { a, _ in a })
                for (entity, value) in want.sorted(by: { $0.key < $1.key }) {
                    guard let g = gotByEntity[entity] else {
                        problems.append("no \(entity) record")
                        continue
                    }
                    if g.value != value {
                        problems.append("\(entity): expected \(value.jsonText), got \(g.value.jsonText)")
                    }
                    if let k = keys[entity], k != g.key {
                        problems.append("\(entity) key: expected '\(k)', got '\(g.key)'")
                    }
                }
                for g in got where want[g.entity] == nil {
                    problems.append("unexpected \(g.entity) record \(g.value.jsonText)")
                }
                return outcome(problems.isEmpty, problems.joined(separator: "; "))
            }
        }
    }
}

/// 64-bit FNV-1a, used for mapping version hashes.
func fnv1a(_ bytes: [UInt8], seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
    var h = seed
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    return h
}

extension CompiledMapping {
    /// The parts of a ``CompiledMapping``, made once when it is compiled; each is described where the mapping
    /// forwards it, under the same name.
    final class Parts: Sendable {
        let name: String
        let version: String
        let input: String
        let file: String
        let tests: [MappingTestCase]
        let services: Set<String>

        let outputs: [OutputPlan]
        let dropWhenPlan: Cond?
        let filterPlan: Cond?
        let outputNodes: [OutputNode]
        let dropWhen: (any ConditionNode)?
        let filter: (any ConditionNode)?
        let memberNames: JSONMemberNames
        let madeCount: Int
        let nestedMembers: JSONNestedMembers
        let textLists: JSONTextLists
        let keepsTextLists: Bool
        let nestedSlots: [Int: [String: Int]]

        init(
            name: String, version: String, input: String, file: String, outputs: [OutputPlan], dropWhen: Cond?,
            filter: Cond?, tests: [MappingTestCase], services: Set<String>, sharingRepeated: Bool = true
        ) {
            self.services = services
            self.name = name
            self.version = version
            self.input = input
            self.file = file
            self.outputs = outputs
            dropWhenPlan = dropWhen
            filterPlan = filter
            self.tests = tests
            var names = PathNames()
            for out in outputs {
                names.add(out.key)
                for f in out.fields { names.add(f.expr) }
                if let w = out.when { names.add(w) }
            }
            if let dropWhen { names.add(dropWhen) }
            if let filter { names.add(filter) }
            memberNames = JSONMemberNames(names.names)
            let memo =
                sharingRepeated
                ? RepeatedExpressions(outputs: outputs, dropWhen: dropWhen, filter: filter).slots(from: 0) : [:]
            madeCount = memo.count
            // A first lowering notes how the root members are read; the second reads members of members from slots.
            let reads = RootReads()
            let noting = Lowering(names: memberNames, atRoot: true, memo: memo, reads: reads)
            _ = outputs.map { OutputNode($0, lowering: noting) }
            _ = dropWhen.map(noting.condition)
            _ = filter.map(noting.condition)
            let (slots, nested) = reads.nestedSlots(memberNames)
            nestedMembers = nested
            nestedSlots = slots
            textLists = JSONTextLists(nameCount: memberNames.count, entries: reads.textLists)
            keepsTextLists = !reads.textLists.isEmpty
            let lowering = Lowering(names: memberNames, atRoot: true, memo: memo, nested: slots)
            outputNodes = outputs.map { OutputNode($0, lowering: lowering) }
            self.dropWhen = dropWhen.map(lowering.condition)
            self.filter = filter.map(lowering.condition)
        }
    }
}
