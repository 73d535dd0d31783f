//! Output and scratch buffers of the kernels: vectors filled without zeroing first, and values aligned to cache
//! lines.

use std::mem::MaybeUninit;

/// A vector of `n` values that `fill` writes, without zeroing them first: zero-filling large outputs that are
/// overwritten anyway was 8% of int8 inference.
///
/// # Safety
/// `fill` must write every element of the slice it is given.
pub(super) unsafe fn filled<T>(n: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    fill(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: the caller's `fill` wrote all n elements.
    unsafe { v.set_len(n) };
    v
}


/// A vector of `n` values that `fill` writes through a plain `&mut [T]`, without zeroing them first: for writers
/// that take `*mut T`, as the matrix product does.
///
/// # Safety
/// The slice `fill` is given starts uninitialised: `fill` must write every element of it, and read none before
/// writing it. A [`super::matmul::product`] without `accumulate` over the whole slice does both (with k = 0 it
/// writes zeros). A buffer that is written piece by piece belongs in `vec![zero; n]` instead.
pub(super) unsafe fn written<T>(n: usize, fill: impl FnOnce(&mut [T])) -> Vec<T> {
    // SAFETY: the caller's `fill` writes all n elements before reading any (the contract above).
    unsafe { filled(n, |dst| fill(&mut *(dst as *mut [MaybeUninit<T>] as *mut [T]))) }
}

/// Values that start on a 64-byte boundary: AMX tile rows and AVX-512 loads that straddle two cache lines run
/// slower, and a `Vec`'s own alignment varies with allocation history (10% of int8 batch-16 time between two
/// builds that differed only in it).
#[derive(Debug)]
pub(crate) struct CacheAligned<T> {
    buf: Vec<T>,
    offset: usize,
    len: usize,
}

impl<T: Copy> CacheAligned<T> {
    /// `len` copies of `value`.
    pub(crate) fn filled(len: usize, value: T) -> Self {
        let mut buf = Vec::new();
        let offset = aligned_in(&mut buf, len, value).as_ptr() as usize - buf.as_ptr() as usize;
        Self { buf, offset: offset / std::mem::size_of::<T>().max(1), len }
    }

    /// `values` followed by copies of `fill` up to `len` values in all, in `values`' own allocation: grown (for a
    /// large buffer the allocator moves its pages rather than copying them) and shifted by under 64 bytes to start
    /// on a cache line, so that no second buffer of that size exists at any time.
    pub(crate) fn from_vec(mut values: Vec<T>, len: usize, fill: T) -> Self {
        let (n, spare) = (values.len(), 64 / std::mem::size_of::<T>().max(1));
        values.reserve_exact((len.max(n) + spare).saturating_sub(values.capacity()));
        values.resize(len.max(n) + spare, fill);
        let offset = values.as_ptr().align_offset(64).min(spare);
        values.copy_within(0..n, offset);
        Self { buf: values, offset, len }
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        &self.buf[self.offset..self.offset + self.len]
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.buf[self.offset..self.offset + self.len]
    }
}

// A derived clone would copy the values to an allocation of another alignment.
impl<T: Copy> Clone for CacheAligned<T> {
    fn clone(&self) -> Self {
        match self.as_slice().first() {
            Some(&v) => {
                let mut copy = Self::filled(self.len, v);
                copy.as_mut_slice().copy_from_slice(self.as_slice());
                copy
            }
            None => Self { buf: Vec::new(), offset: 0, len: 0 },
        }
    }
}

/// `len` values of `buf` that start on a 64-byte boundary, `buf` grown (new values `fill`) as needed: scratch space
/// kept between calls.
pub(crate) fn aligned_in<T: Copy>(buf: &mut Vec<T>, len: usize, fill: T) -> &mut [T] {
    let spare = 64 / std::mem::size_of::<T>().max(1);
    buf.resize(len + spare, fill);
    let offset = buf.as_ptr().align_offset(64).min(spare);
    &mut buf[offset..offset + len]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buffers start on a cache line, after growth and after a clone, and keep their values.
    #[test]
    fn cache_aligned_buffers_start_on_a_line() {
        let mut scratch: Vec<u8> = Vec::new();
        for len in [1, 100, 5000, 3] {
            let s = aligned_in(&mut scratch, len, 7u8);
            assert_eq!((s.len(), s.as_ptr() as usize % 64), (len, 0));
        }
        // Moved into place in its own allocation: the values, then the fill.
        for n in [0, 5, 1000] {
            let b = CacheAligned::from_vec((1..=n as i32).collect(), n + 20, -1);
            let want: Vec<i32> = (1..=n as i32).chain([-1; 20]).collect();
            assert_eq!((b.as_slice(), b.as_slice().as_ptr() as usize % 64), (&want[..], 0));
        }
        let mut a = CacheAligned::filled(1000, 0i32);
        a.as_mut_slice().iter_mut().enumerate().for_each(|(i, v)| *v = i as i32);
        for b in [a.clone(), a.clone().clone()] {
            assert_eq!(b.as_slice().as_ptr() as usize % 64, 0);
            assert_eq!(b.as_slice(), a.as_slice());
        }
    }
}
