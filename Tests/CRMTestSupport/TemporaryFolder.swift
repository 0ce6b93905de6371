import Foundation

/// Writes `files` (name → text) into a fresh folder under the temporary directory and returns its path.
public func temporaryFolder(_ files: [String: String], prefix: String = "crmhub-test") throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID())").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
    return directory
}
