//! The AVX-512 kernel of [`StepWeights::product`]: tiles of up to [`ROWS`] rows × one panel,
//! their accumulators in registers from the start to the one store.

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
                    main: Source {
                        k,
                        a: a.as_ptr().add(row * k),
                        panel,
                    },
                    plus: match start {
                        Start::Product { a, weights, .. } => Some(Source {
                            k: weights.k,
                            a: a.as_ptr().add(row * weights.k),
                            panel: weights.data[first / PANEL * weights.k * PANEL..].as_ptr(),
                        }),
                        _ => None,
                    },
                    start: match start {
                        Start::Zero | Start::Bias(_) | Start::Product { .. } => Origin::Zero,
                        Start::Destination => Origin::Matrix(
                            dst.ptr.add(row * dst.row_stride + first).cast_const(),
                            dst.row_stride,
                        ),
                        Start::Rows {
                            values, columns, ..
                        } => Origin::Matrix(values.as_ptr().add(row * columns + first), columns),
                    },
                    bias: match start {
                        Start::Rows { bias: Some(b), .. }
                        | Start::Bias(b)
                        | Start::Product { bias: b, .. } => b.as_ptr().add(first),
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

/// One product of a tile: `k` columns of `a` (its rows `k` apart) against a panel.
#[derive(Clone, Copy)]
struct Source {
    k: usize,
    a: *const f32,
    panel: *const f32,
}

impl Source {
    /// Adds this product to the accumulators of `MR` rows.
    ///
    /// # Safety
    /// AVX-512 present; `MR` rows of `a` and `k` rows of the panel readable.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn accumulate<const MR: usize>(self, acc: &mut [[__m512; 2]; MR]) {
        // SAFETY: the caller's promise.
        unsafe {
            let mut b = self.panel;
            for p in 0..self.k {
                let b0 = _mm512_loadu_ps(b);
                let b1 = _mm512_loadu_ps(b.add(16));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let a = _mm512_set1_ps(*self.a.add(i * self.k + p));
                    acc[0] = _mm512_fmadd_ps(a, b0, acc[0]);
                    acc[1] = _mm512_fmadd_ps(a, b1, acc[1]);
                }
                b = b.add(PANEL);
            }
        }
    }
}

/// `MR` rows × [`PANEL`] columns of the product, plus a second one (`plus`) when given.
struct Tile {
    main: Source,
    plus: Option<Source>,
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
            if let Some(plus) = self.plus {
                plus.accumulate(&mut acc);
            }
            self.main.accumulate(&mut acc);
            for (i, acc) in acc.iter().enumerate() {
                let row = self.dst.add(i * self.ldc);
                _mm512_mask_storeu_ps(row, m0, acc[0]);
                _mm512_mask_storeu_ps(row.add(16), m1, acc[1]);
            }
        }
    }
}
