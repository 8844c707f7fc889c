//! Loads of a few bytes into an SSE2 register, for the byte tests that look at 16 bytes at
//! once (host tails, request paths). x86_64 only: other targets take the byte loops.

/// 16 bytes into a register.
#[inline(always)]
pub fn load16(bytes: &[u8]) -> std::arch::x86_64::__m128i {
    let b: &[u8; 16] = bytes.try_into().expect("16 bytes");
    // SAFETY: the read is of the 16 bytes of `b`; SSE2 is part of x86_64.
    unsafe { std::arch::x86_64::_mm_loadu_si128(b.as_ptr().cast()) }
}

/// Fewer than 16 bytes into a register, right-aligned, zeros before them, without a store:
/// two overlapping reads place each half.
#[inline(always)]
pub fn load_short(b: &[u8]) -> std::arch::x86_64::__m128i {
    let n = b.len();
    debug_assert!(n < 16);
    let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let u32_at = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().expect("4")));
    let (lo, hi) = match n {
        // Byte k of the register holds `b[k + n - 16]`.
        8.. => (
            (u64_at(0) << 8)
                .checked_shl(8 * (15 - n) as u32)
                .unwrap_or(0),
            u64_at(n - 8),
        ),
        4.. => (0, u32_at(n - 4) << 32 | u32_at(0) << (8 * (8 - n))),
        _ => (
            0,
            b.iter()
                .enumerate()
                .fold(0, |hi, (j, &x)| hi | u64::from(x) << (8 * (j + 8 - n))),
        ),
    };
    // SAFETY: SSE2 is part of x86_64.
    unsafe { std::arch::x86_64::_mm_set_epi64x(hi as i64, lo as i64) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_loads_are_right_aligned_after_zeros() {
        for n in 0..16 {
            let bytes: Vec<u8> = (0..n).map(|i| 0xa0 + i as u8).collect();
            let mut got = [0x55u8; 16];
            // SAFETY: a 16-byte store into `got`.
            unsafe {
                std::arch::x86_64::_mm_storeu_si128(got.as_mut_ptr().cast(), load_short(&bytes))
            };
            let mut want = [0u8; 16];
            want[16 - n..].copy_from_slice(&bytes);
            assert_eq!(got, want, "{n} bytes");
        }
    }
}
