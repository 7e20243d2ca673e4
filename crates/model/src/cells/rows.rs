//! The contract of a cell's native row kernels: what one row (one sequence of the batch) of one
//! step gives a cell and what the cell writes, over one range of hidden units. The threads of a
//! scan each own a range of units, so a row's gate blocks are `H` apart in memory with other
//! threads' units in between: [`Blocks`] hands out exactly this range of each block.

use std::marker::PhantomData;
use std::mem::MaybeUninit;

/// `count` blocks of `len` floats, `stride` floats apart, for reading.
#[derive(Clone, Copy)]
pub(crate) struct Blocks<'a> {
    ptr: *const f32,
    stride: usize,
    len: usize,
    count: usize,
    life: PhantomData<&'a [f32]>,
}

impl<'a> Blocks<'a> {
    /// No blocks (what a cell does not use).
    pub const NONE: Blocks<'static> = Blocks {
        ptr: std::ptr::null(),
        stride: 0,
        len: 0,
        count: 0,
        life: PhantomData,
    };

    /// The blocks at `first`, `first + stride`, ... of `values`, checked.
    #[inline]
    pub fn of(values: &'a [f32], first: usize, stride: usize, len: usize, count: usize) -> Self {
        assert!(count == 0 || first + (count - 1) * stride + len <= values.len());
        // SAFETY: inside `values` (checked), borrowed for 'a.
        unsafe { Self::from_ptr(values.as_ptr().add(first), stride, len, count) }
    }

    /// # Safety
    /// The blocks are readable and nobody writes them during 'a.
    #[inline]
    pub unsafe fn from_ptr(ptr: *const f32, stride: usize, len: usize, count: usize) -> Self {
        Self {
            ptr,
            stride,
            len,
            count,
            life: PhantomData,
        }
    }

    /// The `N` blocks (`N` must be their count).
    #[inline(always)]
    pub fn get<const N: usize>(self) -> [&'a [f32]; N] {
        assert_eq!(N, self.count, "a row of {} blocks", self.count);
        // SAFETY: block `g` is `len` readable floats (the constructor's promise).
        std::array::from_fn(|g| unsafe {
            std::slice::from_raw_parts(self.ptr.add(g * self.stride), self.len)
        })
    }
}

/// `count` blocks of `len` floats, `stride` floats apart, for writing (they may be memory
/// nothing has written yet).
pub(crate) struct BlocksMut<'a> {
    /// The layout (its pointer is only ever written through here).
    blocks: Blocks<'a>,
    life: PhantomData<&'a mut [f32]>,
}

impl<'a> BlocksMut<'a> {
    /// No blocks (what a cell does not write).
    #[inline]
    pub fn none() -> Self {
        Self {
            blocks: Blocks::NONE,
            life: PhantomData,
        }
    }

    /// # Safety
    /// The blocks are writable, apart from each other, and nobody else reads or writes them
    /// during 'a.
    pub unsafe fn from_ptr(ptr: *mut f32, stride: usize, len: usize, count: usize) -> Self {
        assert!(count <= 1 || stride >= len, "blocks overlap");
        Self {
            // SAFETY: readable as they are writable (the caller).
            blocks: unsafe { Blocks::from_ptr(ptr, stride, len, count) },
            life: PhantomData,
        }
    }

    /// Block `g` (of `len` floats).
    #[inline(always)]
    fn block(&self, g: usize) -> &'a mut [MaybeUninit<f32>] {
        let Blocks {
            ptr, stride, len, ..
        } = self.blocks;
        // SAFETY: block `g` is `len` writable floats apart from the others (the constructor's
        // promise); `MaybeUninit` makes no claim about their contents; each block is handed
        // out once (`get` and `zero` consume the blocks).
        unsafe { std::slice::from_raw_parts_mut(ptr.add(g * stride).cast_mut().cast(), len) }
    }

    /// The `N` blocks (`N` must be their count).
    #[inline(always)]
    pub fn get<const N: usize>(self) -> [&'a mut [MaybeUninit<f32>]; N] {
        assert_eq!(
            N, self.blocks.count,
            "a row of {} blocks",
            self.blocks.count
        );
        std::array::from_fn(|g| self.block(g))
    }

    /// Writes zero into every block.
    #[inline]
    pub fn zero(self) {
        for g in 0..self.blocks.count {
            self.block(g).fill(MaybeUninit::new(0.0));
        }
    }
}

/// One row of a step forward, over `n` hidden units (`n = h.len()`): the cell reads the parts
/// and the previous state and writes the new state and its tape.
pub(crate) struct ForwardRow<'a> {
    /// `GATES` blocks: the hidden part, or both parts summed (see [`super::Cell`]).
    pub hidden: Blocks<'a>,
    /// `GATES` blocks of the input part, for cells with `SEPARATE_INPUT` (else none).
    pub input: Blocks<'a>,
    /// The previous hidden state (empty under a projection: projectable cells never read it).
    pub h_prev: &'a [f32],
    /// Empty unless the cell has a cell state.
    pub c_prev: &'a [f32],
    /// The cell's output: the new hidden state, or `m_t` before a projection.
    pub h: &'a mut [MaybeUninit<f32>],
    /// The new cell state (empty unless the cell has one).
    pub c: &'a mut [MaybeUninit<f32>],
    /// `TAPE` blocks kept for the backward row.
    pub tape: BlocksMut<'a>,
}

/// One row of a step backward, over `n` hidden units (`n = g.len()`).
pub(crate) struct BackwardRow<'a> {
    /// The gradient reaching the cell's output: `h_t`'s (its output's and the later steps'), or
    /// under a projection what that gives `m_t`.
    pub g: &'a [f32],
    /// The gradient reaching `c_t` (empty unless the cell has a cell state).
    pub gc: &'a [f32],
    /// What [`ForwardRow::tape`] received.
    pub tape: Blocks<'a>,
    /// The cell's output (as [`ForwardRow::h`]) and the previous hidden state (empty under a
    /// projection).
    pub h: &'a [f32],
    pub h_prev: &'a [f32],
    /// `c_t` and `c_{t-1}` (empty unless the cell has a cell state).
    pub c: &'a [f32],
    pub c_prev: &'a [f32],
    /// `GATES` blocks: the gradient of the hidden part (or of the summed parts).
    pub d_hidden: BlocksMut<'a>,
    /// `GATES` blocks: the gradient of the input part, for cells with `SEPARATE_INPUT`.
    pub d_input: BlocksMut<'a>,
    /// What reaches `h_{t-1}` besides `W_hh`, written (cells with `DIRECT`; else empty).
    pub direct: &'a mut [f32],
    /// What reaches `c_{t-1}`, written (cells with a cell state; else empty).
    pub gc_prev: &'a mut [f32],
}

/// Under layer norm, a cell state's normalisation in a row (the LSTM's `LN(c_t)·gain + bias`
/// before its output), `[H]` each. Rows under layer norm span all `H` units: the statistics
/// are over the whole row.
#[derive(Clone, Copy)]
pub(crate) struct RowStateNorm<'a> {
    pub gain: &'a [f32],
    pub bias: &'a [f32],
}

/// [`RowStateNorm`] in a backward row, with where the row adds its gradients of the gain and
/// the bias (`[H]` each, summed over rows and steps).
pub(crate) struct RowStateNormGrads<'a> {
    pub norm: RowStateNorm<'a>,
    pub d_gain: &'a mut [f32],
    pub d_bias: &'a mut [f32],
}
