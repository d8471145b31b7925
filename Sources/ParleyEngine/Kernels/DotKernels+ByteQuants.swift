extension DotKernels {
    /// How the byte format stores its quants (see ``WeightMatrix/Format/byte``): one kernel skeleton
    /// (``byte1``, ``byte4``, ``byte8``) serves every storage — signed bytes once loaded
    /// (``SignedQuants``) or unsigned packed bits (``PackedQuants``) — each giving the exact integer sums.
    protocol ByteQuants {
        /// A 32-byte chunk of eight rows' quants, unpacked once for every activation vector.
        associatedtype Chunk
        /// Bytes per block of a row group.
        static var blockBytes: Int { get }
        /// Where a half block's sum starts, from the activations' corrections (`−128 · Σqa` per half).
        static func start(_ corrections: UnsafePointer<Int32>, _ index: Int) -> Int32
        /// Chunk `k` (elements `16h + 4k…16h + 4k + 3` of eight rows) of half `h` of the block at `w`.
        static func chunk(_ w: UnsafeRawPointer, half h: Int, chunk k: Int, _ constants: Constants) -> Chunk
        /// The chunk's products with the four activation quants at `a + offset`, summed per row.
        static func product(_ chunk: Chunk, _ a: UnsafeRawPointer, _ offset: Int, _ ones: SIMD16<Int16>) -> SIMD8<Int32>
    }

    /// Quants that are signed bytes once loaded (within ±128; ±127 for the levels): each
    /// `vpmaddubsw` pair multiplies their magnitudes by the activations with their signs
    /// (|w| ≤ 128 times ±a, at most 32512), widened at once; the sums start at zero.
    protocol SignedQuants: ByteQuants where Chunk == (SIMD32<UInt8>, SIMD32<Int8>) {
        /// Chunk `k` of half `h` of the block at `w` as signed bytes.
        static func signedChunk(_ w: UnsafeRawPointer, half h: Int, chunk k: Int, _ constants: Constants) -> SIMD32<Int8>
    }

    /// Signed 8-bit quants, 256 bytes per block: byte `128h + 32k + 4r + j` is element `16h + 4k + j`
    /// of row `r`.
    enum SignedBytes: SignedQuants {
        static var blockBytes: Int { 256 }

        @inline(__always)
        static func signedChunk(_ w: UnsafeRawPointer, half h: Int, chunk k: Int, _ constants: Constants) -> SIMD32<Int8> {
            w.loadUnaligned(fromByteOffset: 128 * h + 32 * k, as: SIMD32<Int8>.self)
        }
    }

    /// IQ4_NL's and IQ4_XS's quants: 4-bit indices into the non-linear levels, 128 bytes per block
    /// laid out as the nibble format (elements 0…15 in the low nibbles, 16…31 in the high ones);
    /// `vpshufb` turns a chunk's indices into its levels.
    enum NonlinearNibbles: SignedQuants {
        static var blockBytes: Int { 128 }

        @inline(__always)
        static func signedChunk(_ w: UnsafeRawPointer, half h: Int, chunk k: Int, _ constants: Constants) -> SIMD32<Int8> {
            let indices = nibbles(w, 32 * k, constants.mask)
            return lookup(constants.levels, h == 0 ? indices.0 : indices.1)
        }
    }

    /// Chunk `k` of half `h` of a block of packed quants at `w` as unsigned bytes (see
    /// ``WeightMatrix/Format/byte``): the low bits — a nibble of the nibble block (5 and 6 bits), or
    /// bits `2k, 2k+1` of the two-bit plane's half `h` (2 and 3 bits) — and, moved up above them, the
    /// high bits of their plane: six bits, bits `2k, 2k+1` of the second plane's half `h`; five and
    /// three bits, bit `4h + k`. (16-bit shifts: the masks drop what crosses from the neighbouring byte.)
    @inline(__always)
    static func packedChunk(
        _ w: UnsafeRawPointer, half h: Int, chunk k: Int, bits: Int, _ constants: Constants
    ) -> SIMD32<UInt8> {
        let low: SIMD16<UInt16>
        if bits >= 4 {
            let halves = nibbles(w, 32 * k, constants.mask)
            low = unsafeBitCast(h == 0 ? halves.0 : halves.1, to: SIMD16<UInt16>.self)
        } else {
            let raw = w.loadUnaligned(fromByteOffset: 32 * h, as: SIMD16<UInt16>.self)
            low = (raw &>> UInt16(2 * k)) & constants.twoBits
        }
        guard bits != 2 else { return unsafeBitCast(low, to: SIMD32<UInt8>.self) }
        let lowBits = bits >= 4 ? 4 : 2
        let plane = w.loadUnaligned(fromByteOffset: bits == 6 ? 128 + 32 * h : 32 * lowBits, as: SIMD16<UInt16>.self)
        let bit = bits == 6 ? 2 * k : 4 * h + k  // the plane's bit that becomes bit `lowBits`
        let moved = bit >= lowBits ? plane &>> UInt16(bit - lowBits) : plane &<< UInt16(lowBits - bit)
        let highMask = bits == 6 ? constants.highBits : bits == 5 ? constants.fifthBit : constants.thirdBit
        return unsafeBitCast(low | (moved & highMask), to: SIMD32<UInt8>.self)
    }

    /// Quants packed in fewer than eight bits (see ``WeightMatrix/packedBits``), stored as
    /// `q + bias` (unsigned): a block is `32 · bits` bytes. Their sums start at `−bias · Σqa`, which
    /// is the half's correction (`−128 · Σqa`) times `bias / 128`, and leave exactly Σ q·qa. A
    /// `vpmaddubsw` pair is at most 2·63·127.
    protocol PackedQuants: ByteQuants where Chunk == SIMD32<UInt8> {
        /// Bits per quant: 6, 5, 3 or 2.
        static var bits: Int { get }
        /// What is added to a quant before it is stored.
        static var bias: Int32 { get }
    }

    /// Q6_K's quants, `q + 32` in six bits: 192 bytes per block (a 64-byte plane).
    enum SixBits: PackedQuants {
        static var bits: Int { 6 }
        static var bias: Int32 { 32 }
    }

    /// Q5_0's quants, `q + 16` in five bits: 160 bytes per block (a 32-byte plane).
    enum FiveBits: PackedQuants {
        static var bits: Int { 5 }
        static var bias: Int32 { 16 }
    }

    /// Q5_1's and Q5_K's quants, unsigned (0…31) in five bits, laid out like ``FiveBits``.
    enum UnsignedFiveBits: PackedQuants {
        static var bits: Int { 5 }
        static var bias: Int32 { 0 }
    }

    /// Q3_K's quants, `q + 4` in three bits: 96 bytes per block (a two-bit plane and a 32-byte plane).
    enum ThreeBits: PackedQuants {
        static var bits: Int { 3 }
        static var bias: Int32 { 4 }
    }

    /// Q2_K's quants, unsigned (0…3) in two bits: 64 bytes per block (a two-bit plane).
    enum TwoBits: PackedQuants {
        static var bits: Int { 2 }
        static var bias: Int32 { 0 }
    }
}

extension DotKernels.SignedQuants {
    @inline(__always)
    static func start(_ corrections: UnsafePointer<Int32>, _ index: Int) -> Int32 { 0 }

    @inline(__always)
    static func chunk(_ w: UnsafeRawPointer, half h: Int, chunk k: Int, _ constants: DotKernels.Constants) -> (
        SIMD32<UInt8>, SIMD32<Int8>
    ) {
        let q = signedChunk(w, half: h, chunk: k, constants)
        return (DotKernels.magnitude(q), q)
    }

    @inline(__always)
    static func product(
        _ chunk: (SIMD32<UInt8>, SIMD32<Int8>), _ a: UnsafeRawPointer, _ offset: Int, _ ones: SIMD16<Int16>
    ) -> SIMD8<Int32> {
        DotKernels.widen(DotKernels.maddubs(chunk.0, DotKernels.sign(DotKernels.broadcast4(a, offset), chunk.1)), ones)
    }
}

extension DotKernels.PackedQuants {
    static var blockBytes: Int { 32 * bits }

    @inline(__always)
    static func start(_ corrections: UnsafePointer<Int32>, _ index: Int) -> Int32 {
        bias == 0 ? 0 : (corrections[index] &>> 7) &* bias
    }

    @inline(__always)
    static func chunk(_ w: UnsafeRawPointer, half h: Int, chunk k: Int, _ constants: DotKernels.Constants) -> SIMD32<UInt8> {
        DotKernels.packedChunk(w, half: h, chunk: k, bits: bits, constants)
    }

    @inline(__always)
    static func product(_ chunk: SIMD32<UInt8>, _ a: UnsafeRawPointer, _ offset: Int, _ ones: SIMD16<Int16>) -> SIMD8<Int32> {
        DotKernels.widen(DotKernels.maddubs(chunk, DotKernels.broadcast4(a, offset)), ones)
    }
}
