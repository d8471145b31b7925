extension DotKernels {
    /// How the byte format stores its quants (see ``WeightMatrix/Format/byte``): one kernel skeleton
    /// (``byte1``, ``byte4``, ``byte8``) serves both storages, which give the same integer sums.
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

    /// Signed 8-bit quants, 256 bytes per block: byte `128h + 32k + 4r + j` is element `16h + 4k + j`
    /// of row `r`. Each `vpmaddubsw` pair (|w| ≤ 128 times ±a, at most 32512) is widened at once.
    enum SignedBytes: ByteQuants {
        static var blockBytes: Int { 256 }

        @inline(__always)
        static func start(_ corrections: UnsafePointer<Int32>, _ index: Int) -> Int32 { 0 }

        @inline(__always)
        static func chunk(_ w: UnsafeRawPointer, half h: Int, chunk k: Int, _ constants: Constants) -> (
            SIMD32<UInt8>, SIMD32<Int8>
        ) {
            let q = w.loadUnaligned(fromByteOffset: 128 * h + 32 * k, as: SIMD32<Int8>.self)
            return (magnitude(q), q)
        }

        @inline(__always)
        static func product(
            _ chunk: (SIMD32<UInt8>, SIMD32<Int8>), _ a: UnsafeRawPointer, _ offset: Int, _ ones: SIMD16<Int16>
        ) -> SIMD8<Int32> {
            widen(maddubs(chunk.0, sign(broadcast4(a, offset), chunk.1)), ones)
        }
    }

    /// Six-bit quants stored as `q + 32` (0…63), 192 bytes per block: the low nibbles laid out as a
    /// nibble block (elements 0…15 low, 16…31 high), then the two high bits of each (bits `2k, 2k+1`
    /// of byte `32h + 4r + j` for element `16h + 4k + j`). The unsigned sums start at `−32 · Σqa`
    /// (the correction divided by 4), which leaves exactly Σ q·qa; a `vpmaddubsw` pair is at most
    /// 2·63·127.
    enum SixBits: ByteQuants {
        static var blockBytes: Int { 192 }

        @inline(__always)
        static func start(_ corrections: UnsafePointer<Int32>, _ index: Int) -> Int32 { corrections[index] &>> 2 }

        @inline(__always)
        static func chunk(_ w: UnsafeRawPointer, half h: Int, chunk k: Int, _ constants: Constants) -> SIMD32<UInt8> {
            let raw = w.loadUnaligned(fromByteOffset: 32 * k, as: SIMD16<UInt16>.self)
            let low = (h == 0 ? raw : raw &>> 4) & constants.mask
            let plane = w.loadUnaligned(fromByteOffset: 128 + 32 * h, as: SIMD16<UInt16>.self)
            // Bits 2k and 2k+1 of each byte moved to bits 4 and 5 (16-bit shifts: the mask drops
            // what crosses from the neighbouring byte).
            let high = (k >= 2 ? plane &>> UInt16(2 * k - 4) : plane &<< UInt16(4 - 2 * k)) & constants.highBits
            return unsafeBitCast(low | high, to: SIMD32<UInt8>.self)
        }

        @inline(__always)
        static func product(_ chunk: SIMD32<UInt8>, _ a: UnsafeRawPointer, _ offset: Int, _ ones: SIMD16<Int16>) -> SIMD8<
            Int32
        > {
            widen(maddubs(chunk, broadcast4(a, offset)), ones)
        }
    }
}
