import CParleyKernels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which implementation of the quantized matrix kernels runs (see ``MatMul``).
///
/// Both compute the same integer block sums and the same float steps, so their results are equal bit
/// for bit; the choice only changes the speed.
enum KernelPath: Sendable, Hashable {
    /// The Swift SIMD kernels (``DotKernels``): AVX2 on x86-64, plain SIMD elsewhere.
    case portable
    /// The AVX-512 kernels of `CParleyKernels`, on CPUs that have AVX-512 VNNI: the matrix
    /// products (`vpdpbusd`) and attention (scores, softmax and weighted sums sixteen lanes at a time).
    case vnni

    /// Setting this environment variable to `portable` makes ``preferred`` the portable kernels
    /// (for comparing the two, or to rule the VNNI kernels out).
    static let environmentVariable = "PARLEY_ENGINE_KERNELS"

    /// Whether this CPU and OS run the VNNI kernels (AVX-512 F/BW/VL/VNNI).
    static let cpuSupportsVNNI = parley_vnni_available() != 0

    /// The kernels of this process: VNNI when the CPU has them and ``environmentVariable`` does not
    /// ask for the portable ones.
    static let preferred = resolve(
        override: getenv(environmentVariable).map { String(cString: $0) }, cpuSupportsVNNI: cpuSupportsVNNI)

    /// The kernels for an ``environmentVariable`` value (`nil` if unset) on a CPU with or without
    /// VNNI: `portable` forces the portable kernels; anything else picks the fastest available.
    static func resolve(override: String?, cpuSupportsVNNI: Bool) -> KernelPath {
        if override?.lowercased() == "portable" { return .portable }
        return cpuSupportsVNNI ? .vnni : .portable
    }

    /// The paths this CPU can run.
    static var available: [KernelPath] { cpuSupportsVNNI ? [.portable, .vnni] : [.portable] }
}
