import CRMTestSupport
import Foundation
import Testing

@testable import CRMTransport

/// The drop folders the shared behaviour suite runs against.
enum DropKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case local, sftp
    var testDescription: String { rawValue }
}

/// A drop under test, the local folder behind it (checked directly, independently of the drop) and a scratch folder
/// for the files a job would stage. For SFTP the folder is served by a real sshd on loopback.
final class DropFixture: Sendable {
    let drop: any FileDrop
    let folder: URL
    let scratch: URL
    let server: SSHServer?

    init(_ kind: DropKind) throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-drop-scratch-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        switch kind {
        case .local:
            server = nil
            folder = scratch.appendingPathComponent("drop")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            drop = LocalFileDrop(directory: folder)
        case .sftp:
            let server = try SSHServer()
            self.server = server
            folder = server.dropDirectory
            drop = try SFTPFileDrop(
                SFTPConfiguration(
                    host: "127.0.0.1", port: server.port, user: server.user, directory: server.dropDirectory.path,
                    privateKey: server.clientKey, hostKeySHA256: server.hostKeySHA256, connectTimeout: .seconds(5),
                    timeout: .seconds(60)))
        }
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    /// A scratch file of `size` random bytes.
    func randomFile(_ name: String, size: Int) throws -> URL {
        let url = scratch.appendingPathComponent(name)
        let random = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
        defer { try? random.close() }
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let output = try FileHandle(forWritingTo: url)
        defer { try? output.close() }
        var remaining = size
        while remaining > 0 {
            let chunk = try random.read(upToCount: min(remaining, 1 << 20)) ?? Data()
            guard !chunk.isEmpty else { throw TestSetupError("/dev/urandom ran dry") }
            try output.write(contentsOf: chunk)
            remaining -= chunk.count
        }
        return url
    }

    /// A scratch file with `text`.
    func textFile(_ name: String, _ text: String) throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Names directly in the drop folder, read from the file system (not through the drop).
    func folderContents(_ subfolder: String? = nil) -> [String] {
        let path = subfolder.map { folder.appendingPathComponent($0).path } ?? folder.path
        return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

/// `sha256sum FILE` (coreutils), independent of the code under test.
func sha256(_ file: URL) throws -> String {
    let output = try runCapturingOutput("/usr/bin/sha256sum", [file.path])
    guard let digest = output.split(separator: " ").first else {
        throw TestSetupError("sha256sum \(file.path) printed nothing")
    }
    return String(digest)
}

/// One behaviour, every drop: what batch jobs rely on holds for the local folder and for SFTP alike.
@Suite(.timeLimit(.minutes(3)))
struct FileDropBehaviourTests {
    @Test(arguments: DropKind.allCases)
    func aPublishedMultiMegabyteFileIsListedByGlobAndFetchedBackIdentical(kind: DropKind) async throws {
        let fixture = try DropFixture(kind)
        let size = 8 << 20
        let source = try fixture.randomFile("export.csv", size: size)
        let started = ContinuousClock.now
        try await fixture.drop.publish(source, as: "orders-2026-11-25.csv")
        let published = ContinuousClock.now
        try await fixture.drop.publish(try fixture.textFile("notes.txt", "not an order\n"), as: "notes.txt")

        let listed = try await fixture.drop.list(matching: "orders-*.csv")
        #expect(listed.map(\.name) == ["orders-2026-11-25.csv"])
        #expect(listed.first?.size == Int64(size))
        let modified = try #require(listed.first?.modified)
        #expect(abs(modified.timeIntervalSinceNow) < 300)
        #expect(try await fixture.drop.list(matching: "*").map(\.name) == ["notes.txt", "orders-2026-11-25.csv"])

        let copy = fixture.scratch.appendingPathComponent("fetched.csv")
        let fetchStarted = ContinuousClock.now
        try await fixture.drop.fetch("orders-2026-11-25.csv", to: copy)
        let fetched = ContinuousClock.now
        #expect(try sha256(copy) == sha256(source))
        #expect(fixture.folderContents() == ["notes.txt", "orders-2026-11-25.csv"])
        #expect(!fixture.folderContents().contains { $0.hasSuffix(".part") })
        print("[\(kind)] 8 MiB publish \(published - started), fetch \(fetched - fetchStarted)")
    }

    @Test(arguments: DropKind.allCases)
    func publishingAgainReplacesTheFileWithoutDuplicateOrPartLeftOver(kind: DropKind) async throws {
        let fixture = try DropFixture(kind)
        try await fixture.drop.publish(try fixture.textFile("v1", "first run\n"), as: "customers.csv")
        try await fixture.drop.publish(try fixture.textFile("v2", "second run, longer\n"), as: "customers.csv")
        #expect(fixture.folderContents() == ["customers.csv"])
        let text = try String(contentsOf: fixture.folder.appendingPathComponent("customers.csv"), encoding: .utf8)
        #expect(text == "second run, longer\n")
        #expect(try await fixture.drop.list(matching: "*.csv").map(\.size) == [19])
    }

    @Test(arguments: DropKind.allCases)
    func movingIntoArchiveCreatesTheFolderAndARepeatedMoveReplacesTheArchivedCopy(kind: DropKind) async throws {
        let fixture = try DropFixture(kind)
        try await fixture.drop.publish(try fixture.textFile("a", "one\n"), as: "in.csv")
        #expect(try await fixture.drop.exists("in.csv"))
        try await fixture.drop.move("in.csv", into: "archive")
        #expect(try await !fixture.drop.exists("in.csv"))
        #expect(try await fixture.drop.list(matching: "*").isEmpty)
        #expect(fixture.folderContents() == ["archive"])
        #expect(fixture.folderContents("archive") == ["in.csv"])

        try await fixture.drop.publish(try fixture.textFile("b", "two\n"), as: "in.csv")
        try await fixture.drop.move("in.csv", into: "archive")
        #expect(fixture.folderContents() == ["archive"])
        let archived = try String(contentsOf: fixture.folder.appendingPathComponent("archive/in.csv"), encoding: .utf8)
        #expect(archived == "two\n")
    }

    @Test(arguments: DropKind.allCases)
    func movingAFileThatIsGoneFailsAndKeepsTheArchivedCopy(kind: DropKind) async throws {
        let fixture = try DropFixture(kind)
        try await fixture.drop.publish(try fixture.textFile("a", "one\n"), as: "in.csv")
        try await fixture.drop.move("in.csv", into: "archive")
        await #expect(throws: TransportError.self) { try await fixture.drop.move("in.csv", into: "archive") }
        #expect(fixture.folderContents("archive") == ["in.csv"])
    }

    @Test(arguments: DropKind.allCases)
    func listingSkipsPartFilesAndFoldersAndSortsByName(kind: DropKind) async throws {
        let fixture = try DropFixture(kind)
        for name in ["b.csv", "a.csv", "c.txt"] {
            try await fixture.drop.publish(try fixture.textFile(name, name), as: name)
        }
        try "partial".write(to: fixture.folder.appendingPathComponent("d.csv.part"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            at: fixture.folder.appendingPathComponent("e.csv"), withIntermediateDirectories: true)
        #expect(try await fixture.drop.list(matching: "*.csv").map(\.name) == ["a.csv", "b.csv"])
        #expect(try await fixture.drop.list(matching: "[ab].*").map(\.name) == ["a.csv", "b.csv"])
        #expect(try await fixture.drop.list(matching: "?.txt").map(\.name) == ["c.txt"])
    }

    @Test(arguments: DropKind.allCases)
    func namesWithSpacesAndQuotesSurviveEveryOperation(kind: DropKind) async throws {
        let fixture = try DropFixture(kind)
        let name = "Q3 \"final\" report's copy.csv"
        try await fixture.drop.publish(try fixture.textFile("q", "q3\n"), as: name)
        #expect(try await fixture.drop.list(matching: "Q3*").map(\.name) == [name])
        #expect(try await fixture.drop.exists(name))
        let copy = fixture.scratch.appendingPathComponent("copy")
        try await fixture.drop.fetch(name, to: copy)
        #expect(try String(contentsOf: copy, encoding: .utf8) == "q3\n")
        try await fixture.drop.move(name, into: "done reports")
        #expect(fixture.folderContents("done reports") == [name])
    }

    @Test(arguments: DropKind.allCases)
    func concurrentPublishesAllArriveWhole(kind: DropKind) async throws {
        let fixture = try DropFixture(kind)
        var sources: [(URL, String)] = []
        for index in 0..<6 {
            sources.append((try fixture.randomFile("batch-\(index)", size: 300_000 + index), "batch-\(index).dat"))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (source, name) in sources {
                group.addTask { try await fixture.drop.publish(source, as: name) }
            }
            try await group.waitForAll()
        }
        let listed = try await fixture.drop.list(matching: "batch-*.dat")
        #expect(listed.map(\.name) == sources.map(\.1))
        for (source, name) in sources {
            #expect(try sha256(fixture.folder.appendingPathComponent(name)) == sha256(source))
        }
    }

    @Test(arguments: DropKind.allCases)
    func fetchingAMissingFileIsAPermanentError(kind: DropKind) async throws {
        let fixture = try DropFixture(kind)
        let copy = fixture.scratch.appendingPathComponent("nothing")
        let error = await #expect(throws: TransportError.self) { try await fixture.drop.fetch("missing.csv", to: copy) }
        #expect(error?.isTransient == false)
        #expect(!FileManager.default.fileExists(atPath: copy.path))
        #expect(
            ((try? FileManager.default.contentsOfDirectory(atPath: fixture.scratch.path)) ?? []).allSatisfy {
                !$0.hasSuffix(".fetch")
            })
    }
}

/// SFTP-specific refusals and failures, against a real sshd.
@Suite(.timeLimit(.minutes(2)))
struct SFTPFileDropFailureTests {
    func configuration(_ server: SSHServer, key: String? = nil, pin: String?) -> SFTPConfiguration {
        SFTPConfiguration(
            host: "127.0.0.1", port: server.port, user: server.user, directory: server.dropDirectory.path,
            privateKey: key ?? server.clientKey, hostKeySHA256: pin, connectTimeout: .seconds(5), timeout: .seconds(30))
    }

    @Test func aHostKeyThatDoesNotMatchThePinIsRefusedAndNothingIsUploaded() async throws {
        let server = try await offPool { try SSHServer() }
        let wrongPin = "SHA256:" + String(Data(repeating: 7, count: 32).base64EncodedString().dropLast())
        let drop = try SFTPFileDrop(configuration(server, pin: wrongPin))
        let source = server.root.appendingPathComponent("upload.csv")
        try "secret rows\n".write(to: source, atomically: true, encoding: .utf8)
        let error = await #expect(throws: TransportError.self) { try await drop.publish(source, as: "upload.csv") }
        #expect(error?.kind == .tls)
        #expect(error?.isTransient == false)
        let message = error?.message ?? ""
        #expect(message.contains("127.0.0.1:\(server.port)"))
        #expect(message.contains(wrongPin))
        #expect(message.contains(server.hostKeySHA256))
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.dropDirectory.path).isEmpty)
    }

    @Test func aKeyTheServerDoesNotAuthorizeIsAPermanentError() async throws {
        let server = try await offPool { try SSHServer() }
        let drop = try SFTPFileDrop(
            configuration(server, key: try server.makeUnauthorizedKey(), pin: server.hostKeySHA256))
        let error = await #expect(throws: TransportError.self) { try await drop.list(matching: "*") }
        #expect(error?.kind == .configuration)
        #expect(error?.isTransient == false)
        #expect(error?.message.contains("refused public-key authentication as \(server.user)") == true)
    }

    @Test func aStoppedServerIsATransientError() async throws {
        let server = try await offPool { try SSHServer() }
        let drop = try SFTPFileDrop(configuration(server, pin: server.hostKeySHA256))
        #expect(try await drop.list(matching: "*").isEmpty)  // leaves a connection open for reuse
        server.stop()
        let error = await #expect(throws: TransportError.self) { try await drop.list(matching: "*") }
        #expect(error?.isTransient == true)
        #expect(error?.description.contains(String(server.port)) == true)
    }

    @Test func aMissingRemoteFolderIsAConfigurationError() async throws {
        let server = try await offPool { try SSHServer() }
        var settings = configuration(server, pin: server.hostKeySHA256)
        settings.directory = server.dropDirectory.appendingPathComponent("not-there").path
        let drop = try SFTPFileDrop(settings)
        let listError = await #expect(throws: TransportError.self) { try await drop.list(matching: "*") }
        #expect(listError?.kind == .configuration)
        #expect(listError?.message.contains("not-there does not exist") == true)
        let source = server.root.appendingPathComponent("upload.csv")
        try "rows\n".write(to: source, atomically: true, encoding: .utf8)
        let publishError = await #expect(throws: TransportError.self) {
            try await drop.publish(source, as: "upload.csv")
        }
        #expect(publishError?.kind == .configuration)
    }

    @Test func withoutAPinTheDropRefusesToStartUnlessTheCheckIsExplicitlySkipped() async throws {
        let server = try await offPool { try SSHServer() }
        #expect(throws: TransportError.self) { try SFTPFileDrop(configuration(server, pin: nil)) }
        var insecure = configuration(server, pin: nil)
        insecure.insecureSkipHostKeyCheck = true
        #expect(try await SFTPFileDrop(insecure).list(matching: "*").isEmpty)
    }

    @Test func aMalformedPinOrAMissingKeyFileIsAConfigurationError() async throws {
        let server = try await offPool { try SSHServer() }
        let malformed = #expect(throws: TransportError.self) {
            try SFTPFileDrop(configuration(server, pin: "SHA256:not-base64"))
        }
        #expect(malformed?.kind == .configuration)
        let missing = #expect(throws: TransportError.self) {
            try SFTPFileDrop(configuration(server, key: "/nonexistent/id_ed25519", pin: server.hostKeySHA256))
        }
        #expect(missing?.kind == .configuration)
    }
}

/// Pure logic: URL parsing and the long-listing reader.
@Suite struct SFTPConfigurationTests {
    @Test func anSFTPURLGivesHostPortUserAndFolder() throws {
        let configuration = try SFTPConfiguration(
            url: "sftp://batch@files.example.com:2222/srv/drop/", privateKey: "/k", hostKeySHA256: "SHA256:abc")
        #expect(configuration.host == "files.example.com")
        #expect(configuration.port == 2222)
        #expect(configuration.user == "batch")
        #expect(configuration.remoteDirectory == "/srv/drop")
        #expect(configuration.hostKeyBase64 == "abc")
        #expect(configuration.label == "sftp://batch@files.example.com:2222/srv/drop")
        #expect(try SFTPConfiguration(url: "sftp://u@h/~/in", privateKey: "/k", hostKeySHA256: nil).port == 22)
    }

    @Test(arguments: ["http://u@h/x", "sftp://h/x", "sftp://u:secret@h/x", "not a url"])
    func aURLThatIsNotKeyBasedSFTPIsRefused(url: String) {
        let error = #expect(throws: TransportError.self) {
            try SFTPConfiguration(url: url, privateKey: "/k", hostKeySHA256: nil)
        }
        #expect(error?.kind == .configuration)
        #expect(error?.description.contains("secret") == false)
    }

    @Test func theLongListingKeepsRegularFilesWithSizeAndTime() throws {
        let now = try #require(ISO8601DateFormatter().date(from: "2026-11-25T10:00:00Z"))
        let listing = """
            drwxr-xr-x    2 root     root         4096 Nov 25 09:16 .
            drwx------    3 root     root         4096 Nov 25 09:16 ..
            -rw-r--r--    1 root     root       100000 Nov 25 09:16 orders 2026.csv
            -rw-r--r--    1 batch    users           0 Dec 31 23:59 last-year.csv
            -rw-r--r--    1 batch    users          12 Mar  3  2024 old.csv
            lrwxrwxrwx    1 root     root            5 Nov 25 09:16 link -> x
            """
        let files = SFTPListing.regularFiles(in: listing, now: now)
        #expect(files.map(\.name) == ["orders 2026.csv", "last-year.csv", "old.csv"])
        #expect(files.map(\.size) == [100000, 0, 12])
        let formatter = ISO8601DateFormatter()
        #expect(
            files.map { $0.modified.map(formatter.string(from:)) } == [
                "2026-11-25T09:16:00Z", "2025-12-31T23:59:00Z", "2024-03-03T00:00:00Z",
            ])
    }
}

/// What only the local folder does: its copies are made by the kernel (`sendfile`), not through Foundation.
@Suite struct LocalFileDropCopyTests {
    @Test func aFetchReplacesALongerEarlierCopyWholeAndKeepsTheFilesPermissions() async throws {
        let fixture = try DropFixture(.local)
        let source = try fixture.randomFile("orders.csv", size: (3 << 20) + 123)
        guard chmod(source.path, 0o640) == 0 else { throw TestSetupError("chmod 640 \(source.path) failed") }
        try await fixture.drop.publish(source, as: "orders.csv")
        let copy = fixture.scratch.appendingPathComponent("staged.csv")
        _ = try fixture.randomFile("staged.csv", size: 5 << 20)

        try await fixture.drop.fetch("orders.csv", to: copy)

        #expect(try sha256(copy) == sha256(source))
        let mode = try FileManager.default.attributesOfItem(atPath: copy.path)[.posixPermissions] as? Int
        #expect(mode == 0o640)
        let published = fixture.folder.appendingPathComponent("orders.csv")
        #expect(try FileManager.default.attributesOfItem(atPath: published.path)[.posixPermissions] as? Int == 0o640)
    }
}
