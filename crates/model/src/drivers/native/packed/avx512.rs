//! The AVX-512 kernel of [`StepWeights::product`]: tiles of up to [`ROWS`] rows × one panel,
//! their accumulators in registers from the start to the one store. In `f32` each step of a
//! tile is a fused multiply-add per register; in bf16 ([`StepWeights::in_bf16`]) a pair
//! product (`vdpbf16ps`) per register covers two rows of the weight at once.

use std::arch::x86_64::*;
use std::cell::RefCell;
use std::ops::Range;

use super::{Checked, PANEL, ROWS, Start, StepWeights};

/// The product over whole panels, each panel over blocks of [`ROWS`] rows.
///
/// # Safety
/// As [`StepWeights::product`], with sizes checked and AVX-512 present (and AVX512-BF16 for
/// a weight in bf16).
pub(super) unsafe fn product(weights: &StepWeights, checked: Checked) {
    let plus = match checked.start {
        Start::Product { a, weights, .. } => Some((a, weights)),
        _ => None,
    };
    if weights.pairs.is_empty() {
        let floats = |w: &StepWeights, a: &[f32], row: usize, first: usize| Floats {
            k: w.k,
            a: a[row * w.k..].as_ptr(),
            panel: w.data[first / PANEL * w.k * PANEL..].as_ptr(),
        };
        let (main, plus) = (checked.a, plus.map_or(&[][..], |(a, _)| a));
        // SAFETY: the caller's promise.
        return unsafe { tiles(weights, &checked, (main, plus), floats) };
    }
    let m = checked.m;
    // Outside `sharing_lhs` nothing rounded before is read again.
    ROUNDED.with_borrow_mut(|rounded| {
        if rounded.shared.is_none() {
            rounded.pairs.clear();
        }
    });
    let rounded = |a: &[f32], k: usize| {
        // SAFETY: AVX512-BF16 is present (the caller's promise); `a` holds `m·k` floats.
        unsafe { rounded_lhs(a, m, k) }
    };
    let main = rounded(checked.a, weights.k);
    let plus = plus.map_or(0..0, |(a, w)| rounded(a, w.k));
    ROUNDED.with_borrow(|rounded| {
        let pairs = |w: &StepWeights, a: &[u32], row: usize, first: usize| {
            let count = w.k.div_ceil(2);
            Pairs {
                count,
                a: a[row * count..].as_ptr(),
                panel: w.pairs[first / PANEL * count * PANEL..].as_ptr(),
            }
        };
        let (main, plus) = (&rounded.pairs[main], &rounded.pairs[plus]);
        // SAFETY: the caller's promise; the pairs have the rows of the floats.
        unsafe { tiles(weights, &checked, (main, plus), pairs) }
    })
}

/// A left-hand side (its first float, floats and depth) and where its pairs lie.
type RoundedLhs = ((*const f32, usize, usize), Range<usize>);

/// This thread's left-hand sides rounded to pairs of bf16, and within [`sharing_lhs`] which
/// ones they are, so that each is rounded once.
struct Rounded {
    pairs: Vec<u32>,
    shared: Option<Vec<RoundedLhs>>,
}

thread_local! {
    static ROUNDED: RefCell<Rounded> = const {
        RefCell::new(Rounded { pairs: Vec::new(), shared: None })
    };
}

/// Where `a` (`m×k`) lies rounded in this thread's [`ROUNDED`] pairs: rounded now (after the
/// pairs already there), or within [`sharing_lhs`] once per left-hand side.
///
/// # Safety
/// AVX512-BF16 present; `a` holds `m·k` floats.
unsafe fn rounded_lhs(a: &[f32], m: usize, k: usize) -> Range<usize> {
    ROUNDED.with_borrow_mut(|rounded| {
        let key = (a.as_ptr(), m * k, k);
        if let Some(shared) = &rounded.shared
            && let Some((_, at)) = shared.iter().find(|(lhs, _)| *lhs == key)
        {
            return at.clone();
        }
        let first = rounded.pairs.len();
        let at = first..first + m * k.div_ceil(2);
        rounded.pairs.resize(at.end, 0);
        // SAFETY: the caller's promise; `at` was just made room for.
        unsafe { to_pairs(a, m, k, &mut rounded.pairs[at.clone()]) };
        if let Some(shared) = &mut rounded.shared {
            shared.push((key, at.clone()));
        }
        at
    })
}

/// Runs `products`, within which every left-hand side of the bf16 products this thread runs
/// is rounded once (the gates of a step share theirs).
///
/// # Safety
/// No left-hand side given to a product within `products` changes while it runs.
pub(super) unsafe fn sharing_lhs<R>(products: impl FnOnce() -> R) -> R {
    /// Ends the sharing however `products` ends, a panic included: a thread that kept sharing
    /// would find a later left-hand side at a reused address among the old ones.
    struct End;
    impl Drop for End {
        fn drop(&mut self) {
            ROUNDED.with_borrow_mut(|rounded| {
                rounded.shared = None;
                rounded.pairs.clear();
            });
        }
    }
    ROUNDED.with_borrow_mut(|rounded| rounded.shared = Some(Vec::new()));
    let _end = End;
    products()
}

/// The tiles of the product, their sources made by `source(weights, lhs, row, first column)`
/// from `lhs` (the product's left-hand side and the second product's, in the source's
/// element type).
///
/// # Safety
/// As [`product`].
unsafe fn tiles<E, S: Copy>(
    weights: &StepWeights,
    checked: &Checked,
    (main, plus): (&[E], &[E]),
    source: impl Fn(&StepWeights, &[E], usize, usize) -> S,
) where
    Tile<S>: Run,
{
    let Checked {
        dst,
        m,
        start,
        ref columns,
        ..
    } = *checked;
    for first in columns.clone().step_by(PANEL) {
        let width = PANEL.min(columns.end - first);
        let masks = masks(width);
        let mut row = 0;
        while row < m {
            let rows = ROWS.min(m - row);
            // SAFETY: the tile's rows and columns are inside the checked sizes.
            let tile = unsafe {
                Tile {
                    main: source(weights, main, row, first),
                    plus: match start {
                        Start::Product { weights, .. } => Some(source(weights, plus, row, first)),
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
            // SAFETY: the instruction sets are present; the tile addresses checked memory.
            unsafe { tile.run(rows) };
            row += rows;
        }
    }
}

/// `m` rows of `k` floats (`a`, row-major) as rows of `k/2` pairs of bf16, rounded to nearest
/// with ties to even, the last pair's high half zero when `k` is odd.
///
/// # Safety
/// AVX512-BF16 present; `a` holds `m·k` floats and `out` `m·⌈k/2⌉` pairs.
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn to_pairs(a: &[f32], m: usize, k: usize, out: &mut [u32]) {
    assert!(a.len() >= m * k && out.len() >= m * k.div_ceil(2));
    for i in 0..m {
        let (from, to) = (a[i * k..].as_ptr(), out[i * k.div_ceil(2)..].as_mut_ptr());
        for j in (0..k).step_by(32) {
            let n = (k - j).min(32);
            // SAFETY: masked lanes are neither read nor written; the others are in bounds.
            unsafe {
                let low = _mm512_maskz_loadu_ps(lanes(n), from.add(j));
                let high =
                    _mm512_maskz_loadu_ps(lanes(n.saturating_sub(16)), from.wrapping_add(j + 16));
                let pairs: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(high, low));
                _mm512_mask_storeu_epi32(to.add(j / 2).cast(), lanes(n.div_ceil(2)), pairs);
            }
        }
    }
}

/// The mask of a register's first `n` lanes (all 16 from 16 on).
fn lanes(n: usize) -> __mmask16 {
    if n >= 16 { 0xffff } else { (1u16 << n) - 1 }
}

/// The lane masks of a panel's two registers for its first `width` columns.
fn masks(width: usize) -> [__mmask16; 2] {
    [lanes(width), lanes(width.saturating_sub(16))]
}

/// What a tile's accumulators start from.
#[derive(Clone, Copy)]
enum Origin {
    Zero,
    /// A matrix with this row stride (the destination itself, or the step's projection).
    Matrix(*const f32, usize),
}

/// One `f32` product of a tile: `k` columns of `a` (its rows `k` apart) against a panel.
#[derive(Clone, Copy)]
struct Floats {
    k: usize,
    a: *const f32,
    panel: *const f32,
}

/// One bf16 product of a tile: `count` pairs of `a` (its rows `count` apart) against a panel
/// of pairs.
#[derive(Clone, Copy)]
struct Pairs {
    count: usize,
    a: *const u32,
    panel: *const u32,
}

/// A product that adds itself to a tile's accumulators.
trait Accumulate: Copy {
    /// Adds the product to the accumulators of `MR` rows.
    ///
    /// # Safety
    /// Inlined into a function with the instruction sets the product uses; `MR` rows of `a`
    /// and the panel's rows readable.
    unsafe fn accumulate<const MR: usize>(self, acc: &mut [[__m512; 2]; MR]);
}

impl Accumulate for Floats {
    #[inline(always)]
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

impl Accumulate for Pairs {
    #[inline(always)]
    unsafe fn accumulate<const MR: usize>(self, acc: &mut [[__m512; 2]; MR]) {
        // SAFETY: the caller's promise; bf16 vectors are 512-bit registers like the others.
        unsafe {
            let mut b = self.panel;
            for p in 0..self.count {
                let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.cast()));
                let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(16).cast()));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let pair = *self.a.add(i * self.count + p) as i32;
                    let a: __m512bh = std::mem::transmute(_mm512_set1_epi32(pair));
                    acc[0] = _mm512_dpbf16_ps(acc[0], a, b0);
                    acc[1] = _mm512_dpbf16_ps(acc[1], a, b1);
                }
                b = b.add(PANEL);
            }
        }
    }
}

/// `MR` rows × [`PANEL`] columns of the product, plus a second one (`plus`) when given.
struct Tile<S> {
    main: S,
    plus: Option<S>,
    start: Origin,
    bias: *const f32,
    dst: *mut f32,
    ldc: usize,
    masks: [__mmask16; 2],
}

impl<S: Accumulate> Tile<S> {
    /// # Safety
    /// Inlined into a function with the instruction sets `S` uses; `MR` rows of the sources,
    /// the start and `dst` readable/writable.
    #[inline(always)]
    unsafe fn body<const MR: usize>(&self) {
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

/// A tile run for its number of rows, compiled with its sources' instruction sets.
trait Run {
    /// # Safety
    /// The instruction sets present; `rows` (1 to [`ROWS`]) rows of the tile addressable.
    unsafe fn run(&self, rows: usize);
}

/// Calls `$tile.$body::<MR>()` for `MR = $rows` (1 to 8).
macro_rules! by_rows {
    ($tile:expr, $rows:expr) => {
        match $rows {
            8 => $tile.body::<8>(),
            7 => $tile.body::<7>(),
            6 => $tile.body::<6>(),
            5 => $tile.body::<5>(),
            4 => $tile.body::<4>(),
            3 => $tile.body::<3>(),
            2 => $tile.body::<2>(),
            _ => $tile.body::<1>(),
        }
    };
}

impl Run for Tile<Floats> {
    #[target_feature(enable = "avx512f")]
    unsafe fn run(&self, rows: usize) {
        // SAFETY: the caller's promise; this function has the instruction set.
        unsafe { by_rows!(self, rows) }
    }
}

impl Run for Tile<Pairs> {
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn run(&self, rows: usize) {
        // SAFETY: as above.
        unsafe { by_rows!(self, rows) }
    }
}
