//! The recurrent weight packed once per scan, and the per-step product against it.
//!
//! A scan multiplies the same `W` (`K×N`) on every step. `gemm` repacks it on every call; here
//! it is packed once into panels of [`PANEL`] columns (each panel `K` rows of [`PANEL`]
//! contiguous floats, zero-padded) and an AVX-512 kernel reads the panels in place. The product
//! takes a range of panels, so that the threads of a team each compute their own columns, and
//! it starts from another matrix plus a bias row (the step's input projection) so that the step
//! needs no separate pass. Without AVX-512 it falls back to one `gemm` call per column range.

use std::ops::Range;

use super::matmul::{Product, View, matmul_into};
use super::simd::Isa;

/// Columns per packed panel: two AVX-512 registers.
pub(crate) const PANEL: usize = 32;
/// Rows per kernel call: 8 rows × 2 registers = 16 accumulators.
const ROWS: usize = 8;

/// `W` (`K×N`), packed for [`StepWeights::product`].
pub(crate) struct StepWeights {
    k: usize,
    n: usize,
    /// AVX-512: the panels; otherwise the row-major matrix for `gemm`.
    data: Vec<f32>,
    packed: bool,
    /// In bf16 ([`StepWeights::in_bf16`]): the panels as `K/2` rows of [`PANEL`] pairs of
    /// bf16 (rows `2r` and `2r + 1` of `W`, the low half first), for AVX512-BF16's pair
    /// products; empty in f32.
    pairs: Vec<u32>,
}

/// The arguments of [`StepWeights::product`], their sizes checked.
struct Checked<'a> {
    dst: Destination,
    m: usize,
    a: &'a [f32],
    start: Start<'a>,
    columns: Range<usize>,
}

/// Where a product's destination starts from.
#[derive(Clone, Copy)]
pub(crate) enum Start<'a> {
    /// Zero.
    Zero,
    /// The destination's own values.
    Destination,
    /// `bias` (one value per column) on every row.
    Bias(&'a [f32]),
    /// A row-major matrix with `columns` floats per row (the destination's columns from its
    /// first), plus `bias` (one value per column) when given.
    Rows {
        values: &'a [f32],
        columns: usize,
        bias: Option<&'a [f32]>,
    },
    /// `bias` (one value per column) plus a second product `a · weights` (`a` row-major,
    /// `weights.k` floats per row; `weights` as wide as the product's): both products
    /// accumulate in one pass over the destination (a step's deferred input part and its
    /// product with `W_hh`).
    Product {
        a: &'a [f32],
        weights: &'a StepWeights,
        bias: &'a [f32],
    },
}

/// The destination of a product: row-major memory with `row_stride` between rows and `len`
/// floats from `ptr` on.
#[derive(Clone, Copy)]
pub(crate) struct Destination {
    pub ptr: *mut f32,
    pub row_stride: usize,
    pub len: usize,
}

impl Destination {
    /// All of `values`, rows `row_stride` apart.
    #[cfg(test)]
    fn of(values: &mut [f32], row_stride: usize) -> Self {
        Self {
            ptr: values.as_mut_ptr(),
            row_stride,
            len: values.len(),
        }
    }
}

impl StepWeights {
    /// Packs the `k×n` block that starts at column `first` of the row-major matrix `w` with
    /// `stride` columns (one gate's columns of an LSTM or GRU weight), for the AVX-512 kernel
    /// when `isa` has it.
    pub fn block(w: &[f32], k: usize, stride: usize, first: usize, n: usize, isa: Isa) -> Self {
        Self::with_kernel(w, k, stride, first, n, isa.has_avx512())
    }

    /// The `gates` blocks of `n` columns of a row-major `k×(gates·n)` weight, one
    /// [`StepWeights`] each.
    pub fn gates(w: &[f32], k: usize, gates: usize, n: usize, isa: Isa) -> Vec<Self> {
        (0..gates)
            .map(|g| Self::block(w, k, gates * n, g * n, n, isa))
            .collect()
    }

    /// As [`Self::block`], choosing the kernel (tests run both).
    fn with_kernel(
        w: &[f32],
        k: usize,
        stride: usize,
        first: usize,
        n: usize,
        packed: bool,
    ) -> Self {
        assert!(
            w.len() == k * stride && first + n <= stride,
            "a {k}×{n} block of a {k}×{stride} matrix"
        );
        let row = |r: usize| &w[r * stride + first..r * stride + first + n];
        if !packed {
            return Self {
                k,
                n,
                data: (0..k).flat_map(|r| row(r).iter().copied()).collect(),
                packed,
                pairs: Vec::new(),
            };
        }
        let panels = n.div_ceil(PANEL);
        let mut data = vec![0.0; panels * k * PANEL];
        for (p, panel) in data.chunks_exact_mut(k * PANEL).enumerate() {
            let first = p * PANEL;
            let width = PANEL.min(n - first);
            for (r, out) in panel.chunks_exact_mut(PANEL).enumerate() {
                out[..width].copy_from_slice(&row(r)[first..first + width]);
            }
        }
        Self {
            k,
            n,
            data,
            packed,
            pairs: Vec::new(),
        }
    }

    /// The same weight rounded to bf16 (to nearest, ties to even), so that its products take
    /// half the instructions: each multiplies pairs of bf16 (its `a` rounded too, a row at a
    /// time) and accumulates in `f32`. Only for the AVX-512 panels, on a CPU with AVX512-BF16
    /// (`Isa::has_avx512_bf16`).
    pub fn in_bf16(self) -> Self {
        assert!(self.packed, "bf16 products need the AVX-512 panels");
        let (k, pairs) = (self.k, self.k.div_ceil(2));
        let mut packed = vec![0u32; self.data.len() / (k * PANEL) * pairs * PANEL];
        let rows = packed.chunks_exact_mut(PANEL);
        let panels = self.data.chunks_exact(k * PANEL);
        for (out, (panel, r)) in rows.zip(panels.flat_map(|p| (0..pairs).map(move |r| (p, r)))) {
            let low = &panel[2 * r * PANEL..][..PANEL];
            // The last pair of an odd depth has no high half (zero).
            let high = panel.get((2 * r + 1) * PANEL..(2 * r + 2) * PANEL);
            let high = high.unwrap_or(&[0.0; PANEL]);
            // Slices of exactly PANEL elements: the loop vectorises.
            for ((out, &low), &high) in out.iter_mut().zip(low).zip(high) {
                *out = u32::from(bf16(low)) | u32::from(bf16(high)) << 16;
            }
        }
        Self {
            data: Vec::new(),
            pairs: packed,
            ..self
        }
    }

    /// The packed weight's size in memory.
    pub fn bytes(&self) -> usize {
        self.data.len() * 4 + self.pairs.len() * 4
    }

    /// The columns of `0..n` for chunk `index` of `count`: whole panels, as even as possible.
    pub fn columns(n: usize, index: usize, count: usize) -> Range<usize> {
        let panels = n.div_ceil(PANEL);
        let at = |i: usize| (panels * i / count * PANEL).min(n);
        at(index)..at(index + 1)
    }

    /// Runs `products`, within which each left-hand side of this thread's bf16 products is
    /// rounded to bf16 once, not once per product (a step's gates share theirs); `f32`
    /// products are not affected.
    ///
    /// # Safety
    /// No left-hand side given to a product within `products` changes while it runs.
    pub unsafe fn sharing_lhs<R>(products: impl FnOnce() -> R) -> R {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's promise.
        return unsafe { avx512::sharing_lhs(products) };
        #[cfg(not(target_arch = "x86_64"))]
        products()
    }

    /// `dst[.., columns] = start[.., columns] + a · W[.., columns]` for `a` row-major `m×k`.
    /// `columns` must start on a panel boundary (as [`Self::columns`] gives).
    ///
    /// # Safety
    /// `dst` must address writable floats (its extent is checked), apart from `a` and `start`,
    /// and no other thread may access the product's columns of it meanwhile.
    pub unsafe fn product(
        &self,
        dst: Destination,
        m: usize,
        a: &[f32],
        start: Start,
        columns: Range<usize>,
    ) {
        let k = self.k;
        if columns.is_empty() || m == 0 {
            return;
        }
        assert!(a.len() >= m * k, "lhs smaller than {m}×{k}");
        assert!(
            (m - 1) * dst.row_stride + columns.end <= dst.len,
            "destination smaller than {m} rows"
        );
        assert!(columns.end <= self.n && columns.start.is_multiple_of(PANEL));
        match start {
            Start::Rows {
                values,
                columns: width,
                bias,
            } => {
                assert!(width >= columns.end && values.len() >= (m - 1) * width + columns.end);
                assert!(bias.is_none_or(|b| b.len() >= columns.end));
            }
            Start::Bias(bias) => assert!(bias.len() >= columns.end),
            Start::Product { a, weights, bias } => {
                assert!(weights.n == self.n && weights.packed == self.packed);
                assert!(weights.pairs.is_empty() == self.pairs.is_empty());
                assert!(
                    a.len() >= m * weights.k,
                    "second lhs smaller than {m}×{}",
                    weights.k
                );
                assert!(bias.len() >= columns.end);
            }
            Start::Zero | Start::Destination => {}
        }
        let checked = Checked {
            dst,
            m,
            a,
            start,
            columns,
        };
        if self.packed {
            // SAFETY: the kernel exists (`packed` is only set when it does); the sizes are
            // checked above and the destination is the caller's.
            unsafe { avx512::product(self, checked) }
        } else {
            // SAFETY: as above.
            unsafe { self.product_with_gemm(checked) }
        }
    }

    /// The fallback: the start copied in, then one accumulating `gemm` call.
    unsafe fn product_with_gemm(&self, checked: Checked) {
        let Checked {
            dst,
            m,
            a,
            start,
            columns,
        } = checked;
        if let Start::Product {
            a: first,
            weights,
            bias,
        } = start
        {
            let first = Checked {
                dst,
                m,
                a: first,
                start: Start::Bias(bias),
                columns: columns.clone(),
            };
            // SAFETY: the caller's checked arguments; then the destination holds the start.
            unsafe { weights.product_with_gemm(first) };
            let start = Start::Destination;
            return unsafe {
                self.product_with_gemm(Checked {
                    dst,
                    m,
                    a,
                    start,
                    columns,
                })
            };
        }
        let (k, width) = (self.k, columns.len());
        // Written through the pointer, never read unless `Start::Destination`: the destination
        // may be memory nothing has written yet.
        for i in 0..m {
            // SAFETY: row `i`'s columns are the caller's to write.
            let row = unsafe { dst.ptr.add(i * dst.row_stride + columns.start) };
            for (j, column) in columns.clone().enumerate() {
                let value = match start {
                    Start::Zero => 0.0,
                    Start::Destination => continue,
                    Start::Bias(bias) => bias[column],
                    Start::Product { .. } => unreachable!("handled above"),
                    Start::Rows {
                        values,
                        columns: stride,
                        bias,
                    } => values[i * stride + column] + bias.map_or(0.0, |b| b[column]),
                };
                // SAFETY: inside the row's columns (above).
                unsafe { row.add(j).write(value) };
            }
        }
        let rhs = View {
            ptr: self.data[columns.start..].as_ptr(),
            row_stride: self.n as isize,
            col_stride: 1,
        };
        // SAFETY: `a` is m×k row-major, `rhs` the k×width block of W; the destination block is
        // the caller's.
        let product = Product {
            m,
            n: width,
            k,
            lhs: View::rows(a, k),
            rhs,
        };
        unsafe { matmul_into(dst.ptr.add(columns.start), dst.row_stride, product, true) }
    }
}

/// The bf16 bits of `x`, rounded to nearest with ties to even (as `vcvtne2ps2bf16` rounds).
#[inline(always)]
pub(crate) fn bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    let rounded = (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16;
    // A NaN stays a (quiet) NaN; a select, not a branch, so that loops over it vectorise.
    let quiet = (bits >> 16) as u16 | 0x40;
    if x.is_nan() { quiet } else { rounded }
}

#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(test)]
mod tests;
