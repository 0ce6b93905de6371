import CRMMasterData
import Foundation
import Hummingbird

/// `GET /customers/{golden id}/timeline?limit=&before=`: a golden customer's contact history, newest first, one
/// bounded page at a time. `limit` is 1…500 (default 50); `before` is the `next` cursor of the previous page.
/// Answers `{"goldenId", "entries": [...], "next": cursor or null}`; 404 for an unknown customer, 400 for a bad
/// `limit` or `before`.
enum TimelineEndpoint {
    /// The default page size.
    static let defaultLimit = 50

    struct Page: Encodable {
        var goldenId: String
        var entries: [TimelineEntry]
        var next: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(goldenId, forKey: .goldenId)
            try c.encode(entries, forKey: .entries)
            if let next { try c.encode(next, forKey: .next) } else { try c.encodeNil(forKey: .next) }
        }

        enum CodingKeys: String, CodingKey { case goldenId, entries, next }
    }

    static func respond(
        to request: Request, context: BasicRequestContext, masterData: MasterDataResolver
    ) async throws -> Response {
        let id = try context.parameters.require("id")
        let query = request.uri.queryParameters
        var limit = defaultLimit
        if let text = query["limit"].map(String.init) {
            guard let n = Int(text), (1...TimelinePage.maximumLimit).contains(n) else {
                throw HTTPError(.badRequest, message: "limit must be 1 to \(TimelinePage.maximumLimit)")
            }
            limit = n
        }
        var before: TimelineCursor?
        if let text = query["before"].map(String.init) {
            guard let cursor = TimelineCursor(text) else {
                throw HTTPError(.badRequest, message: "before must be the 'next' cursor of a previous page")
            }
            before = cursor
        }
        guard let golden = await masterData.golden(id: id) else {
            throw HTTPError(.notFound, message: "no golden customer \(id)")
        }
        let page = try await masterData.timeline(goldenId: golden.id, limit: limit, before: before)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = try encoder.encode(Page(goldenId: golden.id, entries: page.entries, next: page.next?.description))
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
