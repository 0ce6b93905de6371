/// The expressions a mapping computes more than once per message, found at load time: a field and the key both read
/// `{path: id, fn: [string, {prefix: "crm:"}]}`, `displayName` and `givenName` both compute `{path: first_name, fn:
/// [name]}`. Each gets a slot of the evaluator's ``Evaluator/made`` buffer, and its nodes (``MemoNode``) compute it
/// once per message.
///
/// Only what cannot differ between its uses is shared: a path of member names evaluated at the message's root object,
/// followed by a prefix of its `fn:` steps whose functions are pure and whose parameters are compared as text (no
/// regular expressions, dates, value maps, lookups or defaults).
struct RepeatedExpressions {
    /// How many times each expression is used, by key.
    private var uses: [String: Int] = [:]

    /// The keys of `source | steps[0...k]` for each `k` that can be shared (a prefix of `steps`).
    static func keys(_ source: Expr, _ steps: [Step]) -> [String] {
        guard case .path(let p) = source, let names = p.keys else { return [] }
        var key = "path:" + names.map(\.debugDescription).joined(separator: ".")
        var out: [String] = []
        for s in steps {
            guard case .fn(let f) = s, let text = RepeatedExpressions.text(f) else { break }
            key += "|" + text
            out.append(key)
        }
        return out
    }

    /// `f` and its parameters as text, or nil when it is not shared.
    static func text(_ f: Fn) -> String? {
        switch f {
        case .trim, .lower, .upper, .name, .email, .string, .int, .number, .list, .compact, .firstItem, .lastItem,
            .length, .nonEmpty, .bool, .abs, .negate:
            f.name
        case .phone(let region): "phone:" + region.debugDescription
        case .split(let s): "split:" + s.debugDescription
        case .join(let s): "join:" + s.debugDescription
        case .replace(let a, let b): "replace:" + a.debugDescription + "," + b.debugDescription
        case .decimal(let scale): "decimal:\(scale)"
        case .minorUnits(let exponent): "minor_units:\(exponent)"
        case .prefix(let p): "prefix:" + p.debugDescription
        case .suffix(let p): "suffix:" + p.debugDescription
        case .regexExtract, .date: nil
        }
    }

    /// Counts the uses in the expressions of `outputs`, `dropWhen` and `filter` that run at the root object.
    init(outputs: [OutputPlan], dropWhen: Cond?, filter: Cond?) {
        for out in outputs {
            add(out.key)
            for f in out.fields { add(f.expr) }
            if let w = out.when { add(w) }
        }
        if let dropWhen { add(dropWhen) }
        if let filter { add(filter) }
    }

    /// The slots of the expressions used more than once, numbered from `first`.
    func slots(from first: Int) -> [String: Int] {
        var slots: [String: Int] = [:]
        for (key, n) in uses.sorted(by: { $0.key < $1.key }) where n > 1 { slots[key] = first + slots.count }
        return slots
    }

    private mutating func add(_ e: Expr) {
        switch e {
        case .path, .const: break
        case .concat(let parts, _): for x in parts { add(x) }
        case .first(let options): for x in options { add(x) }
        // Below the root (each item, scoped sub-document) the current value differs between uses.
        case .each, .scoped: break
        case .object(let fields): for f in fields { add(f.expr) }
        case .when(let c, let then, let otherwise):
            add(c)
            add(then)
            if let otherwise { add(otherwise) }
        case .pipe(let source, let steps):
            add(source)
            for key in RepeatedExpressions.keys(source, steps) { uses[key, default: 0] += 1 }
        }
    }

    private mutating func add(_ c: Cond) {
        switch c {
        case .exists(let e), .equals(let e, _), .oneOf(let e, _), .matches(let e, _), .compare(let e, _, _): add(e)
        case .all(let cs), .any(let cs): for x in cs { add(x) }
        case .not(let inner): add(inner)
        }
    }
}
