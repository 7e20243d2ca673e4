//! Matrix products on raw `f32` memory through the `gemm` crate, with the operands' strides (so
//! a transposed operand is read in place) and accumulation into the destination.

/// A matrix in memory: element `(i, j)` is at `ptr + i·row_stride + j·col_stride`.
#[derive(Clone, Copy)]
pub(crate) struct View {
    pub ptr: *const f32,
    pub row_stride: isize,
    pub col_stride: isize,
}

impl View {
    /// A row-major matrix with `columns` columns starting at `data[0]`.
    pub fn rows(data: &[f32], columns: usize) -> Self {
        Self {
            ptr: data.as_ptr(),
            row_stride: columns as isize,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix with `columns` columns, read in place.
    pub fn transposed(data: &[f32], columns: usize) -> Self {
        Self {
            ptr: data.as_ptr(),
            row_stride: 1,
            col_stride: columns as isize,
        }
    }
}

/// The transpose of a row-major `rows×cols` matrix, row-major. A step's product reads it by rows:
/// `gemm` would otherwise repack the strided operand on every step (BENCHMARKS.md: `large`
/// Elman training ~578 → ~770 seq/s once the backward pass read this instead).
pub(crate) fn transposed(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    assert_eq!(data.len(), rows * cols, "a {rows}×{cols} matrix");
    let mut out = vec![0.0; rows * cols];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = data[r * cols + c];
                }
            }
        }
    }
    out
}

/// Products at least this large (`m·n·k`) use all of rayon's threads, as flex does.
const PARALLEL_MIN_WORK: usize = 192 * 192 * 192;
/// Products at least this large (and below the above) are split in two halves, one per thread.
const SPLIT_MIN_WORK: usize = 128 * 128 * 128;

/// A product `lhs · rhs` of `lhs` (`m×k`) and `rhs` (`k×n`), read through their strides.
#[derive(Clone, Copy)]
pub(crate) struct Product {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub lhs: View,
    pub rhs: View,
}

/// `dst = [dst +] lhs · rhs` into row-major `m×n` `dst`.
///
/// # Safety
/// `lhs` and `rhs` must address `m×k` and `k×n` readable `f32`s with their strides, none of them
/// inside `dst`.
pub(crate) unsafe fn matmul(dst: &mut [f32], product: Product, accumulate: bool) {
    let (m, n) = (product.m, product.n);
    assert!(dst.len() >= m * n, "destination smaller than {m}×{n}");
    // SAFETY: the destination is checked above, the operands by the caller.
    unsafe { matmul_ptr(dst.as_mut_ptr(), product, accumulate) }
}

/// [`matmul`] into `m×n` row-major floats at `dst`; without `accumulate` they are only written,
/// never read, so they may be memory nothing has written yet.
///
/// # Safety
/// As [`matmul`], with `dst` addressing `m×n` writable floats.
pub(crate) unsafe fn matmul_ptr(dst: *mut f32, product: Product, accumulate: bool) {
    let whole = Part {
        dst,
        dst_row_stride: product.n as isize,
        product,
    };
    let work = product.m * product.n * product.k;
    if (SPLIT_MIN_WORK..PARALLEL_MIN_WORK).contains(&work) && rayon::current_num_threads() > 1 {
        // SAFETY: the halves cover disjoint parts of `dst`'s m×n.
        if let Some([first, second]) = unsafe { whole.halves() } {
            // SAFETY (both): each half writes only its own part of `dst`.
            rayon::join(
                move || unsafe { first.run(accumulate, gemm::Parallelism::None) },
                move || unsafe { second.run(accumulate, gemm::Parallelism::None) },
            );
            return;
        }
    }
    let parallelism = if work >= PARALLEL_MIN_WORK {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the destination and operands are as the caller guarantees.
    unsafe { whole.run(accumulate, parallelism) }
}

/// `dst = [dst +] lhs · rhs` on the calling thread, for `dst` `m×n` with rows `dst_row_stride`
/// apart (a block of a wider matrix).
///
/// # Safety
/// As [`matmul`], with `dst` addressing `m` rows of `n` writable floats.
pub(crate) unsafe fn matmul_into(
    dst: *mut f32,
    dst_row_stride: usize,
    product: Product,
    accumulate: bool,
) {
    let part = Part {
        dst,
        dst_row_stride: dst_row_stride as isize,
        product,
    };
    // SAFETY: as guaranteed by the caller.
    unsafe { part.run(accumulate, gemm::Parallelism::None) }
}

/// A block of a product: `dst` (`m×n`, rows `dst_row_stride` apart) `= [dst +] lhs · rhs`.
#[derive(Clone, Copy)]
struct Part {
    dst: *mut f32,
    dst_row_stride: isize,
    product: Product,
}

// SAFETY: a part is sent to one thread of a `rayon::join` inside `matmul`, while the memory it
// addresses is borrowed by the caller; parts of one product write disjoint memory.
unsafe impl Send for Part {}

impl Part {
    /// Two halves for two threads: by columns when the product is at least as wide as tall (so
    /// that each thread packs only its half of `rhs`, the large operand), by rows otherwise.
    ///
    /// # Safety
    /// The part must address valid memory, as in [`matmul`].
    unsafe fn halves(self) -> Option<[Part; 2]> {
        let Product { m, n, .. } = self.product;
        // SAFETY: the offsets stay inside the operands and the destination.
        unsafe {
            if n >= m && n >= 32 {
                let left = n / 2;
                Some([self.block(0, 0, m, left), self.block(0, left, m, n - left)])
            } else if m >= 16 {
                let top = m / 2;
                Some([self.block(0, 0, top, n), self.block(top, 0, m - top, n)])
            } else {
                None
            }
        }
    }

    /// The `rows×columns` block of this part from row `row` and column `column` on: `lhs`
    /// moves down by `row`, `rhs` right by `column`.
    ///
    /// # Safety
    /// The block lies inside the part.
    unsafe fn block(self, row: usize, column: usize, rows: usize, columns: usize) -> Part {
        let Product { k, lhs, rhs, .. } = self.product;
        let (row, column) = (row as isize, column as isize);
        // SAFETY: the caller's promise.
        unsafe {
            Part {
                dst: self.dst.offset(row * self.dst_row_stride + column),
                product: Product {
                    m: rows,
                    n: columns,
                    k,
                    lhs: View {
                        ptr: lhs.ptr.offset(row * lhs.row_stride),
                        ..lhs
                    },
                    rhs: View {
                        ptr: rhs.ptr.offset(column * rhs.col_stride),
                        ..rhs
                    },
                },
                ..self
            }
        }
    }

    /// One `gemm` call.
    ///
    /// # Safety
    /// The part must address valid memory, as in [`matmul`].
    unsafe fn run(self, accumulate: bool, parallelism: gemm::Parallelism) {
        let Product { m, n, k, lhs, rhs } = self.product;
        // SAFETY: as guaranteed by the caller.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                self.dst,
                1,
                self.dst_row_stride,
                accumulate,
                lhs.ptr,
                lhs.col_stride,
                lhs.row_stride,
                rhs.ptr,
                rhs.col_stride,
                rhs.row_stride,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain, transposed and accumulated products against the textbook triple loop.
    #[test]
    fn products_match_the_definition() {
        let (m, n, k) = (3, 4, 5);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32).sin()).collect();
        let reference = |acc: f32, i: usize, j: usize| {
            acc + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>()
        };
        let mut c = vec![1.0; m * n];
        // SAFETY: a is m×k, b is k×n, both row-major and apart from c.
        let (lhs, rhs) = (View::rows(&a, k), View::rows(&b, n));
        unsafe { matmul(&mut c, Product { m, n, k, lhs, rhs }, true) };
        for i in 0..m {
            for j in 0..n {
                assert!((c[i * n + j] - reference(1.0, i, j)).abs() < 1e-4);
            }
        }
        // aᵀ stored as k×m: reading it transposed gives back a.
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let mut c = vec![7.0; m * n];
        // SAFETY: at is k×m row-major, read as its m×k transpose; b as before.
        let (lhs, rhs) = (View::transposed(&at, m), View::rows(&b, n));
        unsafe { matmul(&mut c, Product { m, n, k, lhs, rhs }, false) };
        for i in 0..m {
            for j in 0..n {
                assert!((c[i * n + j] - reference(0.0, i, j)).abs() < 1e-4);
            }
        }
    }

    /// `transposed` swaps rows and columns, whatever the tiles' remainders.
    #[test]
    fn transposed_swaps_rows_and_columns() {
        let (rows, cols) = (37, 70);
        let a: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let t = transposed(&a, rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(t[c * rows + r], a[r * cols + c]);
            }
        }
    }

    /// Products split over two threads (by columns when wide, by rows when tall) equal the
    /// textbook definition.
    #[test]
    fn split_products_match_the_definition() {
        for (m, n, k) in [(64, 512, 128), (256, 64, 256)] {
            assert!((SPLIT_MIN_WORK..PARALLEL_MIN_WORK).contains(&(m * n * k)));
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
            let mut c = vec![2.0; m * n];
            // SAFETY: a is m×k, b is k×n, both row-major and apart from c.
            let (lhs, rhs) = (View::rows(&a, k), View::rows(&b, n));
            unsafe { matmul(&mut c, Product { m, n, k, lhs, rhs }, true) };
            for i in (0..m).step_by(7) {
                for j in (0..n).step_by(5) {
                    let expected: f32 =
                        2.0 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
                    assert_eq!(c[i * n + j], expected, "({i}, {j}) of {m}×{n}×{k}");
                }
            }
        }
    }
}
