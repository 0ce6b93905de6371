import ArgumentParser
import CRMMapping
import Foundation

/// `crmhub mapping ...`: work with mapping files.
struct MappingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mapping",
        abstract: "Check and test declarative field mappings.",
        subcommands: [MappingTestCommand.self, MappingApplyCommand.self])
}

/// `crmhub mapping test [PATH...]`: compile mappings and run their inline tests.
struct MappingTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Compile mapping files and run their inline tests; prints a pass/fail table.",
        discussion:
            "PATH is a mapping file or a folder (default: Mappings). Includes are resolved among all files given. Exit code 0 when all tests pass, 1 when a test fails, 2 when a file does not compile."
    )

    @Argument(help: "Mapping files or folders.") var paths: [String] = ["Mappings"]
    @Flag(name: .shortAndLong, help: "Print passing tests' locations too.") var verbose = false

    func run() throws {
        let library: MappingLibrary
        do { library = try MappingLibrary.load(files: try mappingFiles(paths)) } catch let error as MappingLoadError {
            FileHandle.standardError.write(Data("\(error.problems.count) problem(s):\n\(error.description)\n".utf8))
            throw ExitCode(2)
        }
        var outcomes: [MappingTestOutcome] = []
        for name in library.mappings.keys.sorted() { outcomes += library.mappings[name]!.runTests() }
        let w1 = max(7, outcomes.map(\.mapping.count).max() ?? 0)
        let w2 = max(4, outcomes.map(\.test.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: n, withPad: " ", startingAt: 0) }
        print("\(pad("MAPPING", w1))  \(pad("TEST", w2))  RESULT")
        for o in outcomes {
            print(
                "\(pad(o.mapping, w1))  \(pad(o.test, w2))  \(o.passed ? "pass" : "FAIL  \(o.location): \(o.detail)")")
        }
        let failed = outcomes.filter { !$0.passed }.count
        let untested = library.mappings.values.filter { $0.tests.isEmpty }.map(\.name).sorted()
        print(
            "\(library.mappings.count) mapping(s), \(outcomes.count) test(s): \(outcomes.count - failed) passed, \(failed) failed"
                + (untested.isEmpty ? "" : "; without tests: \(untested.joined(separator: ", "))"))
        if failed > 0 { throw ExitCode(1) }
    }
}

/// `crmhub mapping apply NAME`: map JSON lines from stdin to stdout (one output line per record).
struct MappingApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a mapping to JSON lines read from standard input; writes mapped records as JSON lines.")

    @Argument(help: "Mapping name.") var name: String
    @Option(help: "Mappings folder.") var mappings = "Mappings"

    func run() throws {
        let library = try MappingLibrary.load(directory: mappings)
        guard let mapping = library.mapping(named: name) else {
            throw ValidationError("no mapping named '\(name)' in \(mappings)")
        }
        var errors = 0
        while let line = readLine(strippingNewline: true) {
            if line.isEmpty { continue }
            do {
                if case .output(let records) = try mapping.apply(Array(line.utf8)) {
                    for r in records { print(String(decoding: r.jsonBytes(), as: UTF8.self)) }
                }
            } catch {
                errors += 1
                FileHandle.standardError.write(Data("\(error)\n".utf8))
            }
        }
        if errors > 0 { throw ExitCode(1) }
    }
}

func mappingFiles(_ paths: [String]) throws -> [String] {
    var files: [String] = []
    for p in paths {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
            throw ValidationError("no such file or folder: \(p)")
        }
        if isDir.boolValue {
            let e = FileManager.default.enumerator(atPath: p)
            while let f = e?.nextObject() as? String {
                if f.hasSuffix(".yaml") || f.hasSuffix(".yml") { files.append(p + "/" + f) }
            }
        } else {
            files.append(p)
        }
    }
    return files.sorted()
}
