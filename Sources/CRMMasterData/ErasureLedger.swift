// CRMMasterData — the erasure ledger: hashed references of erased people, so a replay cannot bring them back.

import Crypto

/// The entries of the erasure ledger: a SHA-256 (hex, domain-separated) of each erased golden id and of each
/// erased source record's `system` and `externalId` — never the raw values. A record whose reference (or whose
/// message's golden id) is on the ledger is refused by ``MasterDataResolver/resolve(_:)``, so a replayed or late
/// message cannot recreate an erased person. Only the erased references are blocked: the same person sent again
/// under a new reference (a new source record id) is a new record.
public enum ErasureLedger {
    /// The ledger entry of a source record reference.
    public static func entry(_ ref: RecordRef) -> String {
        hash("record\u{0}\(ref.system)\u{0}\(ref.externalId)")
    }

    /// The ledger entry of a golden id.
    public static func entry(goldenId: String) -> String { hash("golden\u{0}\(goldenId)") }

    /// The entries of one erasure: the golden id and every erased record.
    public static func entries(goldenId: String, records: [RecordRef]) -> [String] {
        [entry(goldenId: goldenId)] + records.map(entry)
    }

    private static func hash(_ text: String) -> String {
        SHA256.hash(data: Array("crmhub-erasure-v1\u{0}\(text)".utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }
}
