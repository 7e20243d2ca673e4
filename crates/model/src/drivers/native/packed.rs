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
        Self { k, n, data, packed }
    }

    /// The columns of `0..n` for chunk `index` of `count`: whole panels, as even as possible.
    pub fn columns(n: usize, index: usize, count: usize) -> Range<usize> {
        let panels = n.div_ceil(PANEL);
        let at = |i: usize| (panels * i / count * PANEL).min(n);
        at(index)..at(index + 1)
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

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Checked, PANEL, ROWS, Start, StepWeights};

    /// The product over whole panels, each panel over blocks of [`ROWS`] rows.
    ///
    /// # Safety
    /// As [`StepWeights::product`], with sizes checked and AVX-512 present.
    pub(super) unsafe fn product(weights: &StepWeights, checked: Checked) {
        let Checked {
            dst,
            m,
            a,
            start,
            columns,
        } = checked;
        let k = weights.k;
        for first in columns.clone().step_by(PANEL) {
            let width = PANEL.min(columns.end - first);
            let masks = masks(width);
            let panel = weights.data[first / PANEL * k * PANEL..].as_ptr();
            let mut row = 0;
            while row < m {
                let rows = ROWS.min(m - row);
                // SAFETY: the tile's rows and columns are inside the checked sizes.
                let tile = unsafe {
                    Tile {
                        k,
                        a: a.as_ptr().add(row * k),
                        lda: k,
                        panel,
                        start: match start {
                            Start::Zero | Start::Bias(_) => Origin::Zero,
                            Start::Destination => Origin::Matrix(
                                dst.ptr.add(row * dst.row_stride + first).cast_const(),
                                dst.row_stride,
                            ),
                            Start::Rows {
                                values, columns, ..
                            } => {
                                Origin::Matrix(values.as_ptr().add(row * columns + first), columns)
                            }
                        },
                        bias: match start {
                            Start::Rows { bias: Some(b), .. } | Start::Bias(b) => {
                                b.as_ptr().add(first)
                            }
                            _ => std::ptr::null(),
                        },
                        dst: dst.ptr.add(row * dst.row_stride + first),
                        ldc: dst.row_stride,
                        masks,
                    }
                };
                // SAFETY: AVX-512 is present; the tile addresses checked memory.
                unsafe {
                    match rows {
                        8 => tile.run::<8>(),
                        7 => tile.run::<7>(),
                        6 => tile.run::<6>(),
                        5 => tile.run::<5>(),
                        4 => tile.run::<4>(),
                        3 => tile.run::<3>(),
                        2 => tile.run::<2>(),
                        _ => tile.run::<1>(),
                    }
                }
                row += rows;
            }
        }
    }

    /// The lane masks of a panel's two registers for its first `width` columns.
    fn masks(width: usize) -> [__mmask16; 2] {
        let lanes = |n: usize| if n >= 16 { 0xffff } else { (1u16 << n) - 1 };
        [lanes(width), lanes(width.saturating_sub(16))]
    }

    /// What a tile's accumulators start from.
    #[derive(Clone, Copy)]
    enum Origin {
        Zero,
        /// A matrix with this row stride (the destination itself, or the step's projection).
        Matrix(*const f32, usize),
    }

    /// `MR` rows × [`PANEL`] columns of the product.
    struct Tile {
        k: usize,
        a: *const f32,
        lda: usize,
        panel: *const f32,
        start: Origin,
        bias: *const f32,
        dst: *mut f32,
        ldc: usize,
        masks: [__mmask16; 2],
    }

    impl Tile {
        /// # Safety
        /// AVX-512 present; `MR` rows of `a`, the start and `dst` readable/writable.
        #[target_feature(enable = "avx512f")]
        unsafe fn run<const MR: usize>(&self) {
            // SAFETY: the pointers address the tile, as the caller guarantees; masked lanes are
            // neither read nor written.
            unsafe {
                let [m0, m1] = self.masks;
                let mut acc = [[_mm512_setzero_ps(); 2]; MR];
                if let Origin::Matrix(from, stride) = self.start {
                    for (i, acc) in acc.iter_mut().enumerate() {
                        let row = from.add(i * stride);
                        acc[0] = _mm512_maskz_loadu_ps(m0, row);
                        acc[1] = _mm512_maskz_loadu_ps(m1, row.add(16));
                    }
                }
                if !self.bias.is_null() {
                    let b0 = _mm512_maskz_loadu_ps(m0, self.bias);
                    let b1 = _mm512_maskz_loadu_ps(m1, self.bias.add(16));
                    for acc in acc.iter_mut() {
                        acc[0] = _mm512_add_ps(acc[0], b0);
                        acc[1] = _mm512_add_ps(acc[1], b1);
                    }
                }
                let mut b = self.panel;
                for p in 0..self.k {
                    let b0 = _mm512_loadu_ps(b);
                    let b1 = _mm512_loadu_ps(b.add(16));
                    for (i, acc) in acc.iter_mut().enumerate() {
                        let a = _mm512_set1_ps(*self.a.add(i * self.lda + p));
                        acc[0] = _mm512_fmadd_ps(a, b0, acc[0]);
                        acc[1] = _mm512_fmadd_ps(a, b1, acc[1]);
                    }
                    b = b.add(PANEL);
                }
                for (i, acc) in acc.iter().enumerate() {
                    let row = self.dst.add(i * self.ldc);
                    _mm512_mask_storeu_ps(row, m0, acc[0]);
                    _mm512_mask_storeu_ps(row.add(16), m1, acc[1]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every start, ragged sizes (partial panels and row blocks) and column ranges, on both the
    /// packed kernel (when the CPU has it) and the `gemm` fallback, against the definition.
    #[test]
    fn products_match_the_definition() {
        for packed in [false, Isa::best().has_avx512()] {
            for (m, k, n) in [(1, 1, 1), (13, 7, 70), (8, 33, 64), (21, 64, 100)] {
                let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
                let w: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
                let x: Vec<f32> = (0..m * n).map(|i| ((i * 3) % 7) as f32).collect();
                let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.5).collect();
                let weights = StepWeights::with_kernel(&w, k, n, 0, n, packed);
                let product =
                    |i: usize, j: usize| (0..k).map(|p| a[i * k + p] * w[p * n + j]).sum::<f32>();
                for chunks in [1, 2, 3] {
                    let starts = [
                        (Start::Zero, 0),
                        (Start::Destination, 1),
                        (
                            Start::Rows {
                                values: &x,
                                columns: n,
                                bias: None,
                            },
                            2,
                        ),
                        (
                            Start::Rows {
                                values: &x,
                                columns: n,
                                bias: Some(&bias),
                            },
                            3,
                        ),
                        (Start::Bias(&bias), 4),
                    ];
                    for (start, kind) in starts {
                        let mut c: Vec<f32> = (0..m * n).map(|i| i as f32).collect();
                        let dst = Destination::of(&mut c, n);
                        for index in 0..chunks {
                            let columns = StepWeights::columns(n, index, chunks);
                            // SAFETY: c is m×n, apart from a and x.
                            unsafe { weights.product(dst, m, &a, start, columns) };
                        }
                        for i in 0..m {
                            for j in 0..n {
                                let from = match kind {
                                    0 => 0.0,
                                    1 => (i * n + j) as f32,
                                    2 => x[i * n + j],
                                    3 => x[i * n + j] + bias[j],
                                    _ => bias[j],
                                };
                                let expected = from + product(i, j);
                                assert_eq!(
                                    c[i * n + j],
                                    expected,
                                    "({i}, {j}) of {m}×{k}×{n}, start {kind}, packed {packed}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// A gate's block packs that block: its products equal those of the block copied out.
    #[test]
    fn gate_blocks_multiply_their_own_columns() {
        let (m, k, n) = (5, 9, 40);
        let w: Vec<f32> = (0..k * 3 * n)
            .map(|i| ((i * 5) % 11) as f32 - 5.0)
            .collect();
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
        for (g, gate) in StepWeights::gates(&w, k, 3, n, Isa::best())
            .iter()
            .enumerate()
        {
            let mut c = vec![0.0; m * n];
            let dst = Destination::of(&mut c, n);
            // SAFETY: c is m×n, apart from a.
            unsafe { gate.product(dst, m, &a, Start::Zero, 0..n) };
            for i in 0..m {
                for j in 0..n {
                    let expected: f32 = (0..k)
                        .map(|p| a[i * k + p] * w[p * 3 * n + g * n + j])
                        .sum();
                    assert_eq!(c[i * n + j], expected);
                }
            }
        }
    }

    /// The chunks' column ranges cover `0..n` in whole panels, in order, without overlap.
    #[test]
    fn columns_split_whole_panels() {
        for (n, count) in [(32, 2), (100, 2), (512, 2), (512, 3), (2048, 16), (40, 4)] {
            let mut next = 0;
            for index in 0..count {
                let columns = StepWeights::columns(n, index, count);
                assert_eq!(columns.start, next);
                assert!(columns.start.is_multiple_of(PANEL));
                next = columns.end;
            }
            assert_eq!(next, n);
        }
    }
}
