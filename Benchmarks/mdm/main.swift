// mdm-bench: the smallest program that runs the master-data engine (CRMMasterData) on a CSV file.
// Built by Benchmarks/mdm-bench.sh against a release build of the CRMMasterData target only.
//
//   mdm-bench resolve INPUT.csv OUT.csv [--latency] [--no-train]   resolve in file order, write id,cluster_id
//   mdm-bench evaluate INPUT.csv CLUSTERS.csv [TRUTH_COLUMN]       pairwise and cluster precision/recall/F1
//   mdm-bench generate COUNT SEED OUT.csv                           the built-in synthetic generator

import CRMMasterData
import Foundation

let args = Array(CommandLine.arguments.dropFirst())
func fail(_ s: String) -> Never {
    FileHandle.standardError.write(Data((s + "\n").utf8))
    exit(2)
}
do {
    switch args.first {
    case "resolve" where args.count >= 3:
        var bulk = BulkResolution()
        bulk.measureLatency = args.contains("--latency")
        bulk.train = !args.contains("--no-train")
        let report = try bulk.run(input: args[1], output: args[2])
        if let t = report.training, args.contains("--verbose") { print(t) }
        print(report)
    case "evaluate" where args.count >= 3:
        print(try ResolutionEvaluation.evaluate(input: args[1], clusters: args[2], truthColumn: args.count > 3 ? args[3] : "person_id"))
    case "explain" where args.count >= 4:
        print(try BulkResolution().explain(input: args[1], ids: Array(args[2...])))
    case "generate" where args.count == 4:
        guard let count = Int(args[1]), let seed = UInt64(args[2]) else { fail("generate COUNT SEED OUT") }
        try SyntheticCustomers(seed: seed).writeCSV(count: count, to: args[3])
    default:
        fail("usage: mdm-bench resolve IN OUT [--latency] [--no-train] [--verbose] | evaluate IN CLUSTERS [COL] | generate N SEED OUT")
    }
} catch {
    fail("mdm-bench: \(error)")
}
