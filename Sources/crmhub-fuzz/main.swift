// crmhub-fuzz: one libFuzzer target per input surface (docs/fuzzing.md). Built by deploy/testing/fuzz.sh with
// `-sanitize=fuzzer,address -DFUZZING`, libFuzzer drives ``FuzzSurface/run(_:)`` of the surface named by the
// CRMHUB_FUZZ_SURFACE environment variable. A plain build replays files instead:
//
//     crmhub-fuzz SURFACE FILE_OR_DIRECTORY...
//
// runs every file through the surface once (a crash input found by a fuzzer, or a whole corpus) and exits 0 when
// none of them traps.

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

#if FUZZING
    /// libFuzzer's entry for one input.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
        let bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
        FuzzSurface.selected.run(bytes)
        return 0
    }

    /// libFuzzer's driver, for when this main (rather than libFuzzer's own) is the program's entry point.
    @_silgen_name("LLVMFuzzerRunDriver")
    func fuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    _ = FuzzSurface.selected
    var fuzzArgc = CommandLine.argc
    var fuzzArgv = CommandLine.unsafeArgv
    exit(fuzzerRunDriver(&fuzzArgc, &fuzzArgv, fuzzOneInput))
#else
    exit(FuzzReplay.main(Array(CommandLine.arguments.dropFirst())))
#endif
