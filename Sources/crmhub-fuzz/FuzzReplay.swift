import Foundation

/// The plain build's mode: runs files through a surface once.
enum FuzzReplay {
    static func main(_ arguments: [String]) -> CInt {
        guard arguments.count >= 2, let surface = FuzzSurface(rawValue: arguments[0]) else {
            let names = FuzzSurface.allCases.map(\.rawValue).joined(separator: "|")
            FileHandle.standardError.write(Data("usage: crmhub-fuzz \(names) FILE_OR_DIRECTORY...\n".utf8))
            return 2
        }
        var count = 0
        for path in arguments.dropFirst() {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("cannot read \(file)\n".utf8))
                    return 1
                }
                surface.run(Array(data))
                count += 1
            }
        }
        print("\(surface.rawValue): \(count) inputs replayed")
        return 0
    }

    private static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return [path]
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { path + "/" + $0 }.filter { !$0.hasSuffix("/README.md") }
    }
}
