import NIOCore
import STUN

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs one input through every decoding path a server takes with untrusted bytes. Must never trap.
func decodeEveryWay(_ bytes: UnsafeRawBufferPointer) {
    let buffer = ByteBuffer(bytes: bytes)
    _ = try? STUNMessageView.messageLength(of: buffer)
    if let view = try? STUNMessageView(datagram: buffer) {
        _ = view.unknownComprehensionRequiredAttributes()
        _ = view.checkIntegrity(key: fuzzKey)
        if let message = try? view.decode() {
            _ = message.encoded(fingerprint: true)
        }
    }
    if let classic = try? ClassicBindingRequest(datagram: buffer) {
        var out = ByteBuffer()
        classic.writeUnknownAttributes(software: [], into: &out)
    }
}

let fuzzKey = STUNKey(bytes: Array("fuzz".utf8))

#if FUZZING
    /// libFuzzer's callback; built by scripts/fuzz-stun.sh with `-sanitize=fuzzer,address -DFUZZING`.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        decodeEveryWay(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }

    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// SwiftPM gives executables their own entry point, so libFuzzer is started through its driver API
    /// rather than through its own `main`.
    @main
    enum FuzzMain {
        static func main() {
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTestOneInput(data, size) })
        }
    }
#else
    /// Without libFuzzer: replays the files named on the command line (a corpus, or crash inputs).
    @main
    enum ReplayInputs {
        static func main() {
            var count = 0
            for path in CommandLine.arguments.dropFirst() {
                guard let bytes = readFile(path) else {
                    print("cannot read \(path)")
                    continue
                }
                bytes.withUnsafeBytes(decodeEveryWay)
                count += 1
            }
            print("replayed \(count) inputs without a crash")
        }

        static func readFile(_ path: String) -> [UInt8]? {
            guard let file = fopen(path, "rb") else { return nil }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let read = fread(&chunk, 1, chunk.count, file)
                if read <= 0 { break }
                bytes += chunk[0..<read]
            }
            return bytes
        }
    }
#endif
