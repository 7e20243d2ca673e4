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

/// Products at least this large (`m·n·k`) use all of rayon's threads, as flex does.
const PARALLEL_MIN_WORK: usize = 192 * 192 * 192;
/// Products at least this large (and below the above) split their rows over two threads.
const SPLIT_MIN_WORK: usize = 128 * 128 * 128;

/// `dst = [dst +] lhs · rhs` for `lhs` `m×k`, `rhs` `k×n` and `dst` row-major `m×n`.
///
/// # Safety
/// `lhs` and `rhs` must address `m×k` and `k×n` readable `f32`s with their strides, none of them
/// inside `dst`.
pub(crate) unsafe fn matmul(
    dst: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    lhs: View,
    rhs: View,
    accumulate: bool,
) {
    assert!(dst.len() >= m * n, "destination smaller than {m}×{n}");
    let work = m * n * k;
    if (SPLIT_MIN_WORK..PARALLEL_MIN_WORK).contains(&work)
        && m >= 16
        && rayon::current_num_threads() > 1
    {
        let top = m / 2;
        let (upper, lower) = dst.split_at_mut(top * n);
        let lower_lhs = View {
            // SAFETY: row `top` of `lhs` is inside the m×k operand.
            ptr: unsafe { lhs.ptr.offset(top as isize * lhs.row_stride) },
            ..lhs
        };
        let (upper_lhs, lower_lhs, rhs) = (SendView(lhs), SendView(lower_lhs), SendView(rhs));
        // SAFETY (both halves): each reads its own rows of `lhs` and writes its own of `dst`.
        rayon::join(
            move || unsafe {
                matmul_serial(upper, top, n, k, upper_lhs.get(), rhs.get(), accumulate)
            },
            move || unsafe {
                matmul_serial(lower, m - top, n, k, lower_lhs.get(), rhs.get(), accumulate)
            },
        );
        return;
    }
    let parallelism = if work >= PARALLEL_MIN_WORK {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the destination is checked above, the operands by the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
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

/// A view moved to another thread: the memory it reads outlives the `rayon::join` that uses it.
#[derive(Clone, Copy)]
struct SendView(View);

impl SendView {
    /// The view (a method, so closures capture the whole `SendView`, not its field).
    fn get(self) -> View {
        self.0
    }
}

// SAFETY: only read, and only during the `join` in `matmul`, while the caller keeps it alive.
unsafe impl Send for SendView {}

/// [`matmul`] on the calling thread only.
///
/// # Safety
/// As for [`matmul`].
unsafe fn matmul_serial(
    dst: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    lhs: View,
    rhs: View,
    accumulate: bool,
) {
    // SAFETY: as guaranteed by the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
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
            gemm::Parallelism::None,
        );
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
        unsafe { matmul(&mut c, m, n, k, View::rows(&a, k), View::rows(&b, n), true) };
        for i in 0..m {
            for j in 0..n {
                assert!((c[i * n + j] - reference(1.0, i, j)).abs() < 1e-4);
            }
        }
        // aᵀ stored as k×m: reading it transposed gives back a.
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let mut c = vec![7.0; m * n];
        // SAFETY: at is k×m row-major, read as its m×k transpose; b as before.
        unsafe {
            matmul(
                &mut c,
                m,
                n,
                k,
                View::transposed(&at, m),
                View::rows(&b, n),
                false,
            )
        };
        for i in 0..m {
            for j in 0..n {
                assert!((c[i * n + j] - reference(0.0, i, j)).abs() < 1e-4);
            }
        }
    }
}
