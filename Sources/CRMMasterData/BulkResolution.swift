// CRMMasterData — bulk resolution of a CSV file with the daemon's engine (crmhub mdm resolve-file, benchmarks).

import CRMCSV
import CRMModel
import Foundation

/// Resolves every record of a CSV file through one `IdentityGraph`, in file order — exactly what the daemon does
/// when the records arrive one by one, so bulk and streaming give the same clusters. The model is first trained
/// on the file's records (as the daemon trains on its store).
///
/// Memory: the CSV is streamed (never held whole). Bulk runs keep each row's reference and its interned features
/// (`CompactFeatures`) in chunks, not the records, and hand each chunk to the graph as it is resolved (the chunk
/// is then freed: the rows are never held twice); streaming runs (`measureLatency`) keep the records, since each
/// one is normalised when it arrives.
public struct BulkResolution: Sendable {
    /// Outcome counts and timings.
    public struct Report: Sendable, CustomStringConvertible {
        public var records = 0
        public var goldenRecords = 0
        public var decisions: [ResolutionDecision: Int] = [:]
        public var readSeconds = 0.0
        public var trainSeconds = 0.0
        public var resolveSeconds = 0.0
        public var writeSeconds = 0.0
        /// Per-record resolve latencies in microseconds (only when measured).
        public var latencies: [Double] = []
        public var training: MatchTraining.Report?

        public var description: String {
            var s =
                "records=\(records) golden_records=\(goldenRecords) created=\(decisions[.created] ?? 0) "
                + "joined=\(decisions[.joined] ?? 0) review=\(decisions[.review] ?? 0) updated=\(decisions[.updated] ?? 0)\n"
            s += String(
                format:
                    "read=%.2fs train=%.2fs resolve=%.2fs (%.0f records/s) write=%.2fs total=%.2fs peak_rss=%.0fMiB",
                readSeconds, trainSeconds, resolveSeconds, Double(records) / max(resolveSeconds, 1e-9), writeSeconds,
                readSeconds + trainSeconds + resolveSeconds + writeSeconds, ProcessMemory.peakResidentMiB() ?? -1)
            if !latencies.isEmpty {
                func line(_ label: String, _ sample: [Double]) -> String {
                    let l = sample.sorted()
                    let p = { (q: Double) in l[min(l.count - 1, Int(Double(l.count) * q))] }
                    return String(
                        format: "\nlatency_us[%@] p50=%.1f p99=%.1f p999=%.1f max=%.1f", label, p(0.5), p(0.99),
                        p(0.999), l.last!)
                }
                s += line("all \(latencies.count)", latencies)
                let tail = Array(latencies.suffix(max(1, latencies.count / 10)))
                s += line("last \(tail.count), after \(latencies.count - tail.count) records", tail)
            }
            return s
        }
    }

    public var configuration: ResolverConfiguration
    public var training: MatchTraining
    /// Measure per-record latency.
    public var measureLatency = false
    /// Train the model on the file before resolving (default). Off: the prior parameters.
    public var train = true

    public init(
        configuration: ResolverConfiguration = ResolverConfiguration(), training: MatchTraining = MatchTraining()
    ) {
        self.configuration = configuration
        self.training = training
    }

    /// Reads `input` (first column: record id; `columns` maps canonical fields to headers), resolves, writes
    /// `id,cluster_id` to `output`.
    public func run(
        input: String, output: String, columns: [String: String] = [:], defaultSystem: String = "file"
    ) throws
        -> Report
    {
        var report = Report()
        // Large arrays (chunks, tables, the graph's growing arrays) from mappings of their own, returned when
        // freed: the run's peak is at its end, and heap holes left by freed ones were most of its variation.
        if !measureLatency { ProcessMemory.mapAllocations(atLeast: 4 << 20) }
        let clock = ContinuousClock()
        let t0 = clock.now
        var graph = IdentityGraph(configuration: configuration, retainsRecords: false)
        // Streaming keeps the records (normalised one by one while measured); bulk reads and normalises on two
        // threads (`readFeatures`), interns in file order and keeps only references and interned features.
        var records: [CustomerRecord] = []
        var chunks: [(refs: [RecordRef], rows: [CompactFeatures])] = []
        let chunkSize = 65_536
        if measureLatency {
            records = try Self.readRecords(path: input, columns: columns, defaultSystem: defaultSystem)
        } else {
            try Self.readFeatures(path: input, columns: columns, defaultSystem: defaultSystem) { refs, features in
                if chunks.last.map({ $0.refs.count == chunkSize }) ?? true {
                    chunks.append(([], []))
                    chunks[chunks.count - 1].refs.reserveCapacity(chunkSize)
                    chunks[chunks.count - 1].rows.reserveCapacity(chunkSize)
                }
                chunks[chunks.count - 1].refs += refs
                graph.intern(features, into: &chunks[chunks.count - 1].rows)
            }
        }
        let count = measureLatency ? records.count : chunks.reduce(0) { $0 + $1.refs.count }
        let t1 = clock.now
        // Bulk: the references are indexed while the model learns; if every one is new (no row updates an earlier
        // one), blocking and clustering run on two threads (`placePreloaded`).
        // (The references go to the thread in a box it empties, so that they are freed with the chunks.)
        let handOver = UnsafeSendableBox<[[RecordRef]]?>(chunks.map(\.refs))
        let newReferences =
            measureLatency
            ? nil
            : BackgroundResult<RecordRefIndex> {
                guard let refs = handOver.value else { return nil }
                handOver.value = nil
                return RecordRefIndex(newReferences: refs.joined())
            }
        if train {
            // The model learns from the records it is about to resolve (a uniform random sample of them).
            let picks = MatchTraining.sampleIndices(count: count, maximum: training.maximumSample)
            // Streaming runs train on the text features, bulk runs on the interned rows: the same model.
            let r =
                measureLatency
                ? training.train(Self.features(picks.map { records[$0] }))
                : training.train(
                    records: InternedTrainingRecords(
                        rows: picks.map { chunks[$0 / chunkSize].rows[$0 % chunkSize] }, store: graph.store),
                    model: MatchModel())
            report.training = r
            graph.use(MatchModel(parameters: r.parameters))
        }
        // glibc keeps what the normalising workers freed in their arenas (the raw records and text features of
        // every chunk): hand those pages back before resolving.
        if !measureLatency { ProcessMemory.releaseFreeHeap() }
        let t2 = clock.now
        // Per row, the index of its record in the graph (rows with a reference seen before update that record).
        var placed: [Int32] = []
        placed.reserveCapacity(count)
        if measureLatency {
            report.latencies.reserveCapacity(count)
            for r in records {
                // Streaming: each record is normalised as it arrives, inside the measured time.
                let s = clock.now
                let res = graph.resolve(r)
                report.latencies.append(Self.seconds(clock.now - s) * 1e6)
                report.decisions[res.decision, default: 0] += 1
            }
            placed = records.map { graph.recordIndex($0.ref) ?? -1 }
            records = []
        } else {
            // Bulk: resolution in file order of the features interned while reading.
            var tally = [Int](repeating: 0, count: 4)
            let decisions: [ResolutionDecision] = [.created, .joined, .updated, .review]
            if let references = newReferences?.value() {
                // Every reference new: the graph takes all features at once, and the chunks go.
                var rows: [CompactFeatures] = []
                rows.reserveCapacity(count)
                for c in chunks.indices {
                    rows += chunks[c].rows
                    chunks[c].rows = []
                }
                graph.preload(references, features: rows)
                let refs = chunks.map(\.refs)
                chunks = []
                // The chunks' rows (heap blocks below the mapping threshold) are freed: hand their pages back.
                ProcessMemory.releaseFreeHeap()
                placed = Self.placePreloaded(&graph, refs: refs) { tally[decisions.firstIndex(of: $0)!] += 1 }
            } else {
                // On one thread. The per-record arrays and the block entries (ten slots a record) are sized once,
                // and the block table for the estimated distinct keys plus 2 %: no reallocation while resolving.
                // Each chunk is dropped once resolved: the graph holds its references and features from then on.
                let blockKeys = graph.estimatedBlockKeys(chunks.lazy.flatMap(\.rows))
                graph.reserve(records: count, blockKeys: blockKeys + blockKeys / 50)
            }
            for c in chunks.indices {
                let (refs, rows) = chunks[c]
                chunks[c] = ([], [])
                for k in refs.indices {
                    // The two rows after this one, for the graph's prefetching (across the chunk's end too).
                    func ahead(_ d: Int) -> CompactFeatures? {
                        if k + d < rows.count { return rows[k + d] }
                        return chunks.dropFirst(c + 1).first?.rows.dropFirst(k + d - rows.count).first
                    }
                    let p = graph.place(refs[k], features: rows[k], next: ahead(1), afterNext: ahead(2))
                    tally[decisions.firstIndex(of: p.decision)!] += 1
                    placed.append(p.record)
                }
                // The chunk's arrays came from the heap (glibc raises its mmap threshold after the first large
                // free), so freeing them leaves free pages in the heap that nothing else reuses: hand them back.
                ProcessMemory.releaseFreeHeap()
            }
            for (d, n) in zip(decisions, tally) where n > 0 { report.decisions[d] = n }
        }
        let t3 = clock.now
        // Written through one reused byte buffer: a growing `String` per megabyte left its discarded copies as
        // heap holes at the end of the run, when the graph is largest (+17 MB peak on 1M records).
        guard let file = fopen(output, "w") else { throw MasterDataError(.input, "cannot write \(output)") }
        defer { fclose(file) }
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20 + 4_096)
        func flush() throws {
            guard out.withUnsafeBytes({ fwrite($0.baseAddress, 1, $0.count, file) }) == out.count else {
                throw MasterDataError(.input, "cannot write \(output)")
            }
            out.removeAll(keepingCapacity: true)
        }
        out += "id,cluster_id\n".utf8
        let refs = graph.refs
        for i in placed where i >= 0 {
            // Ids are written as their bytes; the rare one that needs CSV quoting goes through `CSVTable.escape`.
            let plain = refs.withBytes(Int(i)) { id in
                let quoted = id.contains(where: CSVTable.needsQuoting)
                if !quoted { out += id }
                return !quoted
            }
            if !plain { out += CSVTable.escape(refs[Int(i)].externalId).utf8 }
            out.append(UInt8(ascii: ","))
            graph.appendGoldenId(ofRecord: i, to: &out)
            out.append(UInt8(ascii: "\n"))
            if out.count >= 1 << 20 { try flush() }
        }
        try flush()
        guard fflush(file) == 0 else { throw MasterDataError(.input, "cannot write \(output)") }
        let t4 = clock.now
        report.records = count
        report.goldenRecords = graph.goldenCount
        report.readSeconds = Self.seconds(t1 - t0)
        report.trainSeconds = Self.seconds(t2 - t1)
        report.resolveSeconds = Self.seconds(t3 - t2)
        report.writeSeconds = Self.seconds(t4 - t3)
        return report
    }

    /// Places the records preloaded into `graph` (references `refs`, in chunks) on two threads: a `BlockStage` finds
    /// each record's candidates on a thread of its own, a batch at a time, while this thread scores and clusters
    /// them in order (the graph's decisions are those of one thread). Returns each record's index.
    static func placePreloaded(
        _ graph: inout IdentityGraph, refs: consuming [[RecordRef]], _ decided: (ResolutionDecision) -> Void
    ) -> [Int32] {
        typealias Candidates = (ends: [Int32], records: [Int32])
        // Batches of 1 024 records' candidates, at most eight waiting (a few hundred kB).
        let queue = BatchQueue<Candidates>(capacity: 8)
        let blocks = UnsafeSendableBox<BlockIndex?>(nil)
        // Moved to the thread (a copy left here would make the stage's first change copy the block index).
        let handOver = UnsafeSendableBox<BlockStage?>(BlockStage(taking: &graph))
        Thread {
            var stage = handOver.value!
            handOver.value = nil
            stage.prepare()
            while !stage.isFinished {
                var batch: Candidates = ([], [])
                batch.ends.reserveCapacity(1_024)
                while batch.ends.count < 1_024 && !stage.isFinished {
                    stage.advance(into: &batch.records)
                    batch.ends.append(Int32(batch.records.count))
                }
                queue.put(batch)
            }
            blocks.value = stage.blocks
            queue.finish()
        }.start()
        var placed: [Int32] = []
        placed.reserveCapacity(refs.reduce(0) { $0 + $1.count })
        var chunk = 0
        var k = 0
        while let batch = try? queue.take() {
            batch.records.withUnsafeBufferPointer { records in
                for n in batch.ends.indices {
                    while k == refs[chunk].count {
                        // Done with a chunk of references: free it and hand its pages back (as `run` does).
                        refs[chunk] = []
                        ProcessMemory.releaseFreeHeap()
                        chunk += 1
                        k = 0
                    }
                    let start = n == 0 ? 0 : Int(batch.ends[n - 1])
                    let end = Int(batch.ends[n])
                    let upcoming = n + 1 < batch.ends.count ? end..<Int(batch.ends[n + 1]) : end..<end
                    let p = graph.place(
                        preloaded: refs[chunk][k], candidates: UnsafeBufferPointer(rebasing: records[start..<end]),
                        upcoming: UnsafeBufferPointer(rebasing: records[upcoming]))
                    decided(p.decision)
                    placed.append(p.record)
                    k += 1
                }
            }
        }
        graph.restoreBlocks(blocks.value!)
        return placed
    }

    /// Why two records of a file ended where they did: resolves the file, then explains the pair and the second
    /// record against every member of the first one's golden record (a diagnostic for benchmarks).
    public func explain(input: String, ids: [String]) throws -> String {
        let records = try Self.readRecords(path: input, columns: [:], defaultSystem: "file")
        var graph = IdentityGraph(configuration: configuration)
        let features = Self.features(records)
        if train { graph.use(MatchModel(parameters: training.train(features).parameters)) }
        for (k, r) in records.enumerated() { _ = graph.resolve(r, features: features[k]) }
        var out = ""
        let refs = ids.compactMap { id in records.first { $0.externalId == id }?.ref }
        for ref in refs { out += "\(ref) → \(graph.goldenId(for: ref) ?? "-")\n" }
        guard refs.count == 2, let g = graph.goldenId(for: refs[0]) else { return out }
        for m in graph.members(of: g) {
            guard let s = graph.explain(refs[1], against: m.ref) else { continue }
            out += "vs \(m.ref): score \(String(format: "%.2f", s.score)) guards \(s.guards.map(\.rawValue))\n"
            for e in s.evidence { out += "    \(e.field) \(e.level) \(String(format: "%.2f", e.weight))\n" }
        }
        return out
    }

    /// Features of many records, computed on all cores (a normalizer of its own per worker).
    public static func features(_ records: [CustomerRecord]) -> [MatchFeatures] {
        let n = records.count
        let chunks = max(1, min(ProcessInfo.processInfo.activeProcessorCount, n / 10_000))
        let parts = UnsafeSendableBox(Array(repeating: [MatchFeatures](), count: chunks))
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            var normalizer = FeatureNormalizer()
            let part = records[n * c / chunks..<n * (c + 1) / chunks].map { normalizer.features($0) }
            parts.lock.lock()
            parts.value[c] = part
            parts.lock.unlock()
        }
        return parts.value.flatMap { $0 }
    }

    /// Rows read and normalised at a time by `readFeatures` (divides the 64k chunks of `run`).
    static let batchSize = 8_192

    /// Streams the CSV as references and features, `batchSize` rows at a time in file order, on two threads: this
    /// thread parses every row, normalises every seventh batch and runs `body` on the batches in order (the caller
    /// interns); a helper thread normalises the other batches (with every fourth batch here, this thread had 20 %
    /// more to do than the helper: 5.2 against 4.3 s of CPU on 1M records; one in seven balances them). Each thread
    /// has its own normalizer. The records are made on this thread, so they come from its malloc arena (a reading
    /// thread's arena stayed resident: +24 MiB at the end of a run).
    static func readFeatures(
        path: String, columns: [String: String], defaultSystem: String,
        _ body: ([RecordRef], [MatchFeatures]) -> Void
    ) throws {
        // At most three batches are at the helper (sent and not yet taken back), so neither queue ever fills up.
        let toHelper = BatchQueue<[CustomerRecord]>(capacity: 3)
        let fromHelper = BatchQueue<[MatchFeatures]>(capacity: 3)
        let helper = Thread {
            var normalizer = FeatureNormalizer()
            var batch = 0
            while let records = try? toHelper.take() {
                if batch % 8 == 0 { normalizer.bound() }
                fromHelper.put(records.map { normalizer.features($0) })
                batch += 1
            }
            fromHelper.finish()
        }
        helper.start()
        defer { toHelper.finish() }
        var normalizer = FeatureNormalizer()
        // Batches read and not yet handed to `body`, in file order; nil features: at the helper.
        var pending: [(refs: [RecordRef], features: [MatchFeatures]?)] = []
        var atHelper = 0
        var batch = 0
        func handOver(whileAtHelper limit: Int) {
            while let (refs, features) = pending.first, features != nil || atHelper > limit {
                pending.removeFirst()
                if let features {
                    body(refs, features)
                } else {
                    guard let features = try? fromHelper.take() else {
                        preconditionFailure("the normalising thread stopped early")
                    }
                    body(refs, features)
                    atHelper -= 1
                }
            }
        }
        try readRecords(path: path, columns: columns, defaultSystem: defaultSystem, chunk: batchSize) { rows in
            if batch % 7 == 0 {
                if batch % 28 == 0 { normalizer.bound() }
                pending.append((rows.map(\.ref), rows.map { normalizer.features($0) }))
            } else {
                handOver(whileAtHelper: 2)
                toHelper.put(rows)
                pending.append((rows.map(\.ref), nil))
                atHelper += 1
            }
            batch += 1
            handOver(whileAtHelper: 3)
        }
        handOver(whileAtHelper: 0)
    }

    /// Streams the CSV into records (the first column is the record id).
    public static func readRecords(
        path: String, columns: [String: String], defaultSystem: String
    ) throws -> [CustomerRecord] {
        var out: [CustomerRecord] = []
        try readRecords(path: path, columns: columns, defaultSystem: defaultSystem, chunk: 65_536) { out += $0 }
        return out
    }

    /// Streams the CSV, handing `body` the records `chunk` at a time (the last chunk may be shorter).
    static func readRecords(
        path: String, columns: [String: String], defaultSystem: String, chunk: Int,
        _ body: ([CustomerRecord]) throws -> Void
    ) throws {
        let reader: CSVReader
        do { reader = try CSVReader(path: path) } catch { throw MasterDataError(.input, error.description) }
        guard case .success(let headerRecord)? = reader.next() else {
            throw MasterDataError(.input, "empty CSV: no header row")
        }
        let header = headerRecord.fields
        let mapping = CSVTable.ColumnMap(try CSVTable(header: header, rows: []).columnIndex(columns: columns))
        var out: [CustomerRecord] = []
        out.reserveCapacity(chunk)
        while let next = reader.next() {
            switch next {
            case .success(let row): out.append(CSVTable.record(row.fields, mapping, defaultSystem: defaultSystem))
            case .failure(let e): throw MasterDataError(.input, e.description)
            }
            if out.count == chunk {
                try body(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        if !out.isEmpty { try body(out) }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// A lock-protected box for results written from `concurrentPerform` workers.
final class UnsafeSendableBox<T>: @unchecked Sendable {
    var value: T
    let lock = NSLock()
    init(_ value: T) { self.value = value }
}
