import Foundation

extension Array where Element: Sendable {
    /// The elements transformed, in order, on up to one task per CPU at once: this task takes the first part and
    /// child tasks the others, each part at least `minimumPerTask` elements long. For CPU-bound work on independent
    /// elements (mapping a batch of messages or a chunk of rows), so a route or an import uses the cores it has.
    ///
    /// Fewer than `2 * minimumPerTask` elements, or a single CPU, are transformed on this task alone.
    public func concurrentMap<Transformed: Sendable>(
        minimumPerTask: Int = 32, _ transform: @escaping @Sendable (Element) async -> Transformed
    ) async -> [Transformed] {
        let parts = Swift.min(availableCPUs, count / Swift.max(minimumPerTask, 1))
        guard parts > 1 else { return await Self.map(self[...], transform) }
        let partLength = (count + parts - 1) / parts
        let part = { (index: Int) in
            self[Swift.min(index * partLength, count)..<Swift.min((index + 1) * partLength, count)]
        }
        return await withTaskGroup(of: (Int, [Transformed]).self) { group in
            for index in 1..<parts {
                let slice = part(index)
                group.addTask { (index, await Self.map(slice, transform)) }
            }
            var results = await Self.map(part(0), transform, capacity: count)
            var others = [[Transformed]](repeating: [], count: parts)
            for await (index, transformed) in group { others[index] = transformed }
            for transformed in others.dropFirst() { results.append(contentsOf: transformed) }
            return results
        }
    }

    private static func map<Transformed>(
        _ slice: ArraySlice<Element>, _ transform: (Element) async -> Transformed, capacity: Int? = nil
    ) async -> [Transformed] {
        var results: [Transformed] = []
        results.reserveCapacity(capacity ?? slice.count)
        for element in slice { results.append(await transform(element)) }
        return results
    }
}

/// The machine's CPUs as Foundation counts them, read once. A `taskset` mask is not taken into account: a process
/// pinned to one core of two still splits a batch in two, which costs a child task per batch and gains nothing.
private let availableCPUs = ProcessInfo.processInfo.activeProcessorCount
