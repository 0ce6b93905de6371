// CRMMasterData — scoring a clustering against ground truth.

import CRMCSV
import Foundation

/// Pairwise and cluster precision/recall/F1 of predicted clusters against true person ids.
public struct ResolutionEvaluation: Sendable, Hashable, CustomStringConvertible {
    public var records: Int
    public var truePairs: Int
    public var predictedPairs: Int
    public var correctPairs: Int
    public var trueClusters: Int
    public var predictedClusters: Int
    /// Predicted clusters whose members are exactly one true person's records.
    public var exactClusters: Int

    public var pairwisePrecision: Double { predictedPairs == 0 ? 1 : Double(correctPairs) / Double(predictedPairs) }
    public var pairwiseRecall: Double { truePairs == 0 ? 1 : Double(correctPairs) / Double(truePairs) }
    public var pairwiseF1: Double { f1(pairwisePrecision, pairwiseRecall) }
    public var clusterPrecision: Double { Double(exactClusters) / Double(max(predictedClusters, 1)) }
    public var clusterRecall: Double { Double(exactClusters) / Double(max(trueClusters, 1)) }
    public var clusterF1: Double { f1(clusterPrecision, clusterRecall) }

    /// Scores `predicted[i]` (cluster label) against `truth[i]` (person id) for every record i.
    public init<P: Hashable, T: Hashable>(predicted: [P], truth: [T]) {
        precondition(predicted.count == truth.count)
        records = truth.count
        func pairs(_ n: Int) -> Int { n * (n - 1) / 2 }
        var byPred: [P: Int] = [:]
        var byTrue: [T: Int] = [:]
        var cell: [Pair<P, T>: Int] = [:]
        for i in 0..<truth.count {
            byPred[predicted[i], default: 0] += 1
            byTrue[truth[i], default: 0] += 1
            cell[Pair(a: predicted[i], b: truth[i]), default: 0] += 1
        }
        truePairs = byTrue.values.reduce(0) { $0 + pairs($1) }
        predictedPairs = byPred.values.reduce(0) { $0 + pairs($1) }
        correctPairs = cell.values.reduce(0) { $0 + pairs($1) }
        trueClusters = byTrue.count
        predictedClusters = byPred.count
        exactClusters = cell.filter { byPred[$0.key.a] == $0.value && byTrue[$0.key.b] == $0.value }.count
    }

    public var description: String {
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        return """
            records=\(records) true_clusters=\(trueClusters) predicted_clusters=\(predictedClusters)
            pairwise precision=\(f(pairwisePrecision)) recall=\(f(pairwiseRecall)) f1=\(f(pairwiseF1)) \
            (true_pairs=\(truePairs) predicted_pairs=\(predictedPairs) correct_pairs=\(correctPairs))
            cluster precision=\(f(clusterPrecision)) recall=\(f(clusterRecall)) f1=\(f(clusterF1))
            """
    }

    private struct Pair<A: Hashable, B: Hashable>: Hashable {
        var a: A
        var b: B
    }
    private func f1(_ p: Double, _ r: Double) -> Double { p + r == 0 ? 0 : 2 * p * r / (p + r) }
}

extension ResolutionEvaluation {
    /// Scores a resolve-file output (`id,cluster_id`) against the ground-truth column of the labelled input,
    /// both read as streams.
    public static func evaluate(
        input: String, clusters: String, truthColumn: String = "person_id"
    ) throws -> ResolutionEvaluation {
        func open(_ path: String) throws -> CSVReader {
            do { return try CSVReader(path: path) } catch { throw MasterDataError(.input, error.description) }
        }
        let out = try open(clusters)
        _ = out.next()
        var cluster: [String: String] = [:]
        while case .success(let row)? = out.next() {
            if row.fields.count >= 2 { cluster[row.fields[0]] = row.fields[1] }
        }
        let inp = try open(input)
        guard case .success(let header)? = inp.next(), let tc = header.fields.firstIndex(of: truthColumn) else {
            throw MasterDataError(.input, "no column \(truthColumn) in \(input)")
        }
        var predicted: [String] = []
        var truth: [String] = []
        while case .success(let row)? = inp.next() {
            guard let c = cluster[row.fields[0]] else {
                throw MasterDataError(.input, "record \(row.fields[0]) missing from \(clusters)")
            }
            predicted.append(c)
            truth.append(row.fields[tc])
        }
        return ResolutionEvaluation(predicted: predicted, truth: truth)
    }
}
