//! The fused kernel's inner loops over dense rows, written by hand because they are the point of
//! the project: for a group of rows of X, the scores f_r = W x_r, a per-row step that turns them
//! into g_r = ∂L_r/∂f_r (the loops know nothing of labels or losses), and the gradient update
//! G += Σ_r g_r x_rᵀ, reading W once per four rows and G once per group instead of once per row.
//! While a group is updated, the next group's rows are prefetched, so that its scores find them
//! in cache.
//!
//! The loops are plain Rust over fixed-size lane arrays (`[F; L]`), which LLVM turns into SIMD
//! registers, compiled once per instruction set through [`dispatch`](super::isa::dispatch)
//! ([`RowLoop`] implements [`Simd`]). Lanes are summed in a fixed order, so a given machine and
//! instruction set always give the same result.

use super::isa::{Arch, Simd, fmadd};
use crate::Float;

/// Rows handled together: the partial gradient is read once per group (a power of two).
pub const GROUP: usize = 8;

/// The row stride, in values, of a partial gradient with `n_features` columns: whole cache
/// lines, and rows that start at least two cache lines apart modulo 4 KiB for the next few rows.
/// The update stores a chunk of one row and then loads the same chunk of the next; when the two
/// addresses agree in their low 12 bits (D = 3073 in float32: 12,292 bytes ≡ 4 mod 4096) the CPU
/// takes the load for a read of the store ("4K aliasing") and makes it wait, which serializes
/// the classes: the padding made the CIFAR-10-shaped update 1.6× faster on an AMD EPYC.
pub fn grad_row_stride<F>(n_features: usize) -> usize {
    let line = 64 / std::mem::size_of::<F>().max(1);
    let page = 4096 / std::mem::size_of::<F>().max(1);
    let too_close = |stride: usize| {
        (1..=4).any(|rows| {
            let offset = rows * stride % page;
            offset < 2 * line || offset > page - 2 * line
        })
    };
    let mut stride = n_features.next_multiple_of(line);
    while too_close(stride) {
        stride += line;
    }
    stride
}

/// Rows of X, read in place.
#[derive(Clone, Copy)]
pub enum Rows<'a, F> {
    /// Consecutive rows, row-major.
    Contiguous(&'a [F]),
    /// Rows `indices` of a row-major matrix: a minibatch, read where it lies instead of copied.
    Picked { matrix: &'a [F], indices: &'a [usize] },
}

impl<'a, F> Rows<'a, F> {
    /// Rows `range` of `matrix` (row-major, `n_features` wide), or of the rows `picked` from it.
    pub fn of(
        (matrix, n_features): (&'a [F], usize),
        picked: Option<&'a [usize]>,
        range: std::ops::Range<usize>,
    ) -> Rows<'a, F> {
        match picked {
            None => Rows::Contiguous(&matrix[range.start * n_features..range.end * n_features]),
            Some(indices) => Rows::Picked { matrix, indices: &indices[range] },
        }
    }

    /// How many rows.
    pub fn len(&self, n_features: usize) -> usize {
        match self {
            Rows::Contiguous(rows) => rows.len() / n_features,
            Rows::Picked { indices, .. } => indices.len(),
        }
    }

    /// Row `i` (of these rows, not of the matrix they are picked from).
    fn row(&self, i: usize, n_features: usize) -> &'a [F] {
        let start = match self {
            Rows::Contiguous(_) => i * n_features,
            Rows::Picked { indices, .. } => indices[i] * n_features,
        };
        let (Rows::Contiguous(matrix) | Rows::Picked { matrix, .. }) = self;
        &matrix[start..start + n_features]
    }
}

/// One block of rows through the loops: X's rows (`n_features` each) and W (C×D, row-major).
///
/// For every row, in the block's processing order, the loops compute its scores f (C) and call
/// `step(i, f)` with the row's position `i` in `inputs`; the step returns the row's loss and
/// leaves g = ∂L_i/∂f in `f`, or an error that ends the block. With a `grad` (C rows of
/// [`grad_row_stride`] values, of which the first D are G's), G += g xᵀ follows. Running the
/// loop ([`Simd::run`]) returns the sum of the steps' losses.
pub struct RowLoop<'a, F, S> {
    pub weights: &'a [F],
    pub inputs: Rows<'a, F>,
    pub n_features: usize,
    pub step: S,
    pub grad: Option<&'a mut [F]>,
}

impl<F: Float, E, S: FnMut(usize, &mut [F]) -> Result<F, E>> Simd for RowLoop<'_, F, S> {
    type Output = Result<f64, E>;

    /// One vector register per accumulator (16 f64 lanes on AVX-512, two registers each,
    /// spilled: float64 passes took 1.4× longer). AVX-512's 32 registers hold score tiles of 5
    /// classes and update tiles of 2 classes × 8 lane chunks; the 16 of AVX2, score tiles of 3
    /// classes (12 accumulators: a CS231n minibatch pass 4% faster than with 2) and update tiles
    /// of 2 × 6 (12 accumulators, and 2 factors and a chunk of x); the baseline's, 2 and 2 × 6.
    #[inline(always)]
    fn run<A: Arch>(self) -> Result<f64, E> {
        let lanes = A::VECTOR_BYTES / std::mem::size_of::<F>();
        match (lanes, A::VECTOR_BYTES) {
            (16, _) => block_loop::<F, E, S, 16, 5, 2, 8, A>(self),
            (8, 64) => block_loop::<F, E, S, 8, 5, 2, 8, A>(self),
            (8, _) => block_loop::<F, E, S, 8, 3, 2, 6, A>(self),
            (4, _) => block_loop::<F, E, S, 4, 2, 2, 6, A>(self),
            (2, _) => block_loop::<F, E, S, 2, 2, 2, 6, A>(self),
            _ => unreachable!("16-, 32- and 64-byte registers of f32 or f64"),
        }
    }
}

/// The block loop: rows in groups of [`GROUP`] (taken in the [`RowOrder`] for D), then the
/// remaining rows one by one. `L` is the number of lanes per accumulator, `P` the classes per
/// register tile of the scores loop, `M` × `Q` the classes × lane chunks of a register tile of
/// the update, `A` the instruction set.
#[inline(always)]
fn block_loop<F, E, S, const L: usize, const P: usize, const M: usize, const Q: usize, A: Arch>(
    block: RowLoop<F, S>,
) -> Result<f64, E>
where
    F: Float,
    S: FnMut(usize, &mut [F]) -> Result<F, E>,
{
    let RowLoop { weights, inputs, n_features, mut step, mut grad } = block;
    let n_classes = weights.len() / n_features;
    let n_rows = inputs.len(n_features);
    let order = RowOrder::new::<F>(n_rows, n_features);
    // The row at position p of the processing order.
    let row = |p: usize| inputs.row(order.row(p), n_features);
    let mut scores = vec![F::zero(); GROUP * n_classes]; // reused by every group
    // g = ∂L/∂f of the group, class by class: the update's factors for each class together.
    let mut by_class = vec![[F::zero(); GROUP]; n_classes];
    let mut by_class_single = vec![[F::zero(); 1]; n_classes];
    // Summed in f64: in f32 a block's running sum of a few thousand losses drifts by ~1e-6
    // relative, a noise that L-BFGS's line search then sees.
    let mut loss_sum = 0.0;
    let mut start = 0;
    while start < n_rows {
        let group = (n_rows - start).min(GROUP);
        if group == GROUP {
            for (tile, tile_scores) in scores.chunks_exact_mut(TILE_ROWS * n_classes).enumerate() {
                let rows: [&[F]; TILE_ROWS] =
                    std::array::from_fn(|r| row(start + tile * TILE_ROWS + r));
                group_scores::<F, TILE_ROWS, P, L, A>(weights, rows, tile_scores);
            }
        } else {
            for r in 0..group {
                let scores_r = &mut scores[r * n_classes..(r + 1) * n_classes];
                group_scores::<F, 1, P, L, A>(weights, [row(start + r)], scores_r);
            }
        }
        for (r, row_scores) in scores.chunks_exact_mut(n_classes).take(group).enumerate() {
            loss_sum += step(order.row(start + r), row_scores)?.as_f64();
        }
        let Some(grad) = grad.as_deref_mut() else {
            start += group;
            continue;
        };
        if group == GROUP {
            let rows: [&[F]; GROUP] = std::array::from_fn(|r| row(start + r));
            for (j, factors) in by_class.iter_mut().enumerate() {
                *factors = std::array::from_fn(|r| scores[r * n_classes + j]);
            }
            let next = (start + 2 * GROUP <= n_rows)
                .then(|| std::array::from_fn(|r| row(start + GROUP + r)));
            group_update::<F, GROUP, M, Q, L, A>(grad, rows, &by_class, next);
        } else {
            for r in 0..group {
                for (j, factors) in by_class_single.iter_mut().enumerate() {
                    *factors = [scores[r * n_classes + j]];
                }
                group_update::<F, 1, M, Q, L, A>(grad, [row(start + r)], &by_class_single, None);
            }
        }
        start += group;
    }
    Ok(loss_sum)
}

/// The order in which a block takes its rows: groups of [`GROUP`] rows `spacing` rows apart, in
/// runs of GROUP·spacing consecutive rows, then the rows left over in order.
///
/// The L1 cache finds a line by address bits 6–11, so rows whose byte stride is close to a
/// multiple of 4 KiB put the same chunk of every row in the same set, and a group's eight rows
/// (plus W's and G's lines) evict each other: with D = 3,073 in float32 rows lie 3·4096 + 4
/// bytes apart. Rows `spacing` apart land at least two lines apart in the set index; on a
/// CIFAR-10-shaped block that made the pass 13% faster. The order depends only on N and D, so
/// results stay the same from run to run and for any thread count.
#[derive(Clone, Copy)]
struct RowOrder {
    /// log2 of the spacing (a power of two, so that [`RowOrder::row`] needs only shifts).
    spacing_log2: u32,
    /// Rows covered by whole runs of GROUP·spacing.
    in_runs: usize,
}

impl RowOrder {
    fn new<F>(n_rows: usize, n_features: usize) -> RowOrder {
        const PAGE: usize = 4096;
        const APART: usize = 128; // two cache lines: a row that starts mid-line touches two
        let stride = n_features * std::mem::size_of::<F>();
        let spread = |spacing: usize| {
            (1..GROUP).all(|i| {
                let offset = i * spacing * stride % PAGE;
                (APART..=PAGE - APART).contains(&offset)
            })
        };
        // No spacing spreads rows whose stride is a multiple of 4 KiB; they keep their order.
        let spacing = [1, 2, 4, 8, 16, 32].into_iter().find(|&m| spread(m)).unwrap_or(1);
        let run = GROUP * spacing;
        RowOrder { spacing_log2: spacing.ilog2(), in_runs: n_rows - n_rows % run }
    }

    /// The row (within the block) at position `p` of the order.
    #[inline(always)]
    fn row(self, p: usize) -> usize {
        if p >= self.in_runs {
            return p;
        }
        const GROUP_LOG2: u32 = GROUP.ilog2();
        let within = p & ((GROUP << self.spacing_log2) - 1); // position within its run
        (p - within) + (within >> GROUP_LOG2) + ((within & (GROUP - 1)) << self.spacing_log2)
    }
}

/// Rows in one register tile of the scores loop (a group is two tiles).
const TILE_ROWS: usize = 4;

/// scores[r·C + j] = w_j · x_r for the `R` rows and every class, in register tiles of
/// `R` rows × `P` classes: R·P accumulators, and each lane chunk loaded serves P (for x) or R
/// (for w) multiply-adds. The last tile takes the classes left over.
#[inline(always)]
fn group_scores<F: Float, const R: usize, const P: usize, const L: usize, A: Arch>(
    weights: &[F],
    rows: [&[F]; R],
    scores: &mut [F],
) {
    let n_features = rows[0].len();
    let n_classes = weights.len() / n_features;
    let mut first = 0;
    while first + P <= n_classes {
        tile_scores::<F, R, P, L, A>(weights, first, rows, scores);
        first += P;
    }
    match n_classes - first {
        0 => {}
        1 => tile_scores::<F, R, 1, L, A>(weights, first, rows, scores),
        2 => tile_scores::<F, R, 2, L, A>(weights, first, rows, scores),
        3 => tile_scores::<F, R, 3, L, A>(weights, first, rows, scores),
        4 => tile_scores::<F, R, 4, L, A>(weights, first, rows, scores),
        _ => unreachable!("tiles have at most 5 classes"),
    }
}

/// The scores of the `R` rows for the `P` classes from `first` on.
///
/// The features past the last whole chunk are zero-padded into one more chunk, and the lane sums
/// are taken with `map`: with a scalar loop over the tail for each accumulator instead, LLVM kept
/// the accumulators in memory and stored all of them on every iteration (2.5× slower).
#[inline(always)]
fn tile_scores<F: Float, const R: usize, const P: usize, const L: usize, A: Arch>(
    weights: &[F],
    first: usize,
    rows: [&[F]; R],
    scores: &mut [F],
) {
    let n_features = rows[0].len();
    let n_classes = weights.len() / n_features;
    let n_chunks = n_features / L;
    let main = n_chunks * L;
    let w: [&[F]; P] = std::array::from_fn(|p| &weights[(first + p) * n_features..][..n_features]);
    let w_chunks: [&[[F; L]]; P] = std::array::from_fn(|p| w[p][..main].as_chunks().0);
    let x_chunks: [&[[F; L]]; R] = std::array::from_fn(|r| rows[r][..main].as_chunks().0);
    let mut acc = [[[F::zero(); L]; P]; R];
    for i in 0..n_chunks {
        tile_step::<F, R, P, L, A>(
            &mut acc,
            std::array::from_fn(|p| w_chunks[p][i]),
            std::array::from_fn(|r| x_chunks[r][i]),
        );
    }
    if main < n_features {
        // The last features, zero-padded to a whole chunk.
        let padded = |values: &[F]| {
            let mut chunk = [F::zero(); L];
            chunk[..n_features - main].copy_from_slice(&values[main..]);
            chunk
        };
        tile_step::<F, R, P, L, A>(
            &mut acc,
            std::array::from_fn(|p| padded(w[p])),
            std::array::from_fn(|r| padded(rows[r])),
        );
    }
    let sums = acc.map(|row| row.map(|lanes| sum_lanes(&lanes)));
    for (r, row_sums) in sums.iter().enumerate() {
        scores[r * n_classes + first..][..P].copy_from_slice(row_sums);
    }
}

/// One lane chunk of the tile: acc[r][p] += w_p ⊙ x_r. A function rather than a closure so that
/// it inherits the caller's target features when inlined (a closure compiled without them called
/// a library `fma` per lane: float64 passes 18× slower).
#[inline(always)]
fn tile_step<F: Float, const R: usize, const P: usize, const L: usize, A: Arch>(
    acc: &mut [[[F; L]; P]; R],
    w: [[F; L]; P],
    x: [[F; L]; R],
) {
    for r in 0..R {
        for p in 0..P {
            for l in 0..L {
                acc[r][p][l] = fmadd::<F, A>(w[p][l], x[r][l], acc[r][p][l]);
            }
        }
    }
}

/// Σ of the lanes, pairwise in a fixed order.
#[inline(always)]
fn sum_lanes<F: Float, const L: usize>(lanes: &[F; L]) -> F {
    let mut lanes = *lanes;
    let mut width = L;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            lanes[l] += lanes[l + width];
        }
    }
    lanes[0]
}

/// G_j += Σ_r g_rj x_r for every class j, with `factors[j]` = (g_rj)_r: an outer product of
/// rank R, in spans of `Q` lane chunks of the features. Each span of the R rows (R·Q chunks) is
/// read into L1 once and serves every class; the `next` rows (the next group's) are prefetched
/// span by span along the way. The chunks left past the last whole span go one at a time, and
/// the features past the last whole chunk in a scalar loop.
#[inline(always)]
fn group_update<F, const R: usize, const M: usize, const Q: usize, const L: usize, A: Arch>(
    grad: &mut [F],
    rows: [&[F]; R],
    factors: &[[F; R]],
    next: Option<[&[F]; R]>,
) where
    F: Float,
{
    let n_features = rows[0].len();
    let stride = grad.len() / factors.len();
    let chunks_end = n_features - n_features % L;
    let spans_end = n_features - n_features % (Q * L);
    let values_per_line = (64 / std::mem::size_of::<F>()).max(1);
    let mut k = 0;
    while k < chunks_end {
        let span = if k < spans_end { Q * L } else { L };
        if let Some(next) = next {
            for row in next {
                for value in row[k..k + span].iter().step_by(values_per_line) {
                    prefetch(value);
                }
            }
        }
        if k < spans_end {
            span_update::<F, R, M, Q, L, A>(grad, stride, k, rows, factors);
        } else {
            span_update::<F, R, M, 1, L, A>(grad, stride, k, rows, factors);
        }
        k += span;
    }
    for (grad_j, g) in grad.chunks_exact_mut(stride).zip(factors) {
        for k in chunks_end..n_features {
            for r in 0..R {
                grad_j[k] = fmadd::<F, A>(g[r], rows[r][k], grad_j[k]);
            }
        }
    }
}

/// The update of the `Q` lane chunks from feature `k` on, for every class: in register tiles of
/// `M` classes (the classes left over one by one).
#[inline(always)]
fn span_update<F, const R: usize, const M: usize, const Q: usize, const L: usize, A: Arch>(
    grad: &mut [F],
    stride: usize,
    k: usize,
    rows: [&[F]; R],
    factors: &[[F; R]],
) where
    F: Float,
{
    let mut grad_tiles = grad.chunks_exact_mut(M * stride);
    let mut factor_tiles = factors.chunks_exact(M);
    for (grad_tile, tile_factors) in (&mut grad_tiles).zip(&mut factor_tiles) {
        tile_update::<F, R, M, Q, L, A>(grad_tile, stride, k, rows, tile_factors);
    }
    let grad_left = grad_tiles.into_remainder().chunks_exact_mut(stride);
    for (grad_j, g) in grad_left.zip(factor_tiles.remainder()) {
        tile_update::<F, R, 1, Q, L, A>(grad_j, stride, k, rows, std::slice::from_ref(g));
    }
}

/// One register tile of the update: the `M` classes' `Q` lane chunks of G from feature `k` on
/// (`grad` holds the M classes' rows, `stride` apart) are read into M·Q accumulators, take the
/// R rows' multiply-adds (row by row, as every tile shape does, so the result does not depend on
/// the tile), and are written back. M·Q independent chains keep the multiply-add units busy
/// where one class's chain of R dependent multiply-adds would wait on each one's latency, and
/// each chunk of x loaded serves M classes.
#[inline(always)]
fn tile_update<F, const R: usize, const M: usize, const Q: usize, const L: usize, A: Arch>(
    grad: &mut [F],
    stride: usize,
    k: usize,
    rows: [&[F]; R],
    factors: &[[F; R]],
) where
    F: Float,
{
    let mut acc: [[[F; L]; Q]; M] = std::array::from_fn(|m| *span::<F, Q, L>(grad, m * stride + k));
    for r in 0..R {
        let x = span::<F, Q, L>(rows[r], k);
        let g: [F; M] = std::array::from_fn(|m| factors[m][r]);
        for q in 0..Q {
            for m in 0..M {
                for l in 0..L {
                    acc[m][q][l] = fmadd::<F, A>(g[m], x[q][l], acc[m][q][l]);
                }
            }
        }
    }
    for (m, acc_m) in acc.iter().enumerate() {
        span_mut::<F, Q, L>(grad, m * stride + k).copy_from_slice(acc_m);
    }
}

/// The `Q` lane chunks of `values` from `at` on (one bounds check for all of them).
#[inline(always)]
fn span<F, const Q: usize, const L: usize>(values: &[F], at: usize) -> &[[F; L]; Q] {
    let chunks = values[at..][..Q * L].as_chunks::<L>().0;
    chunks.try_into().expect("Q chunks of L lanes")
}

/// [`span`], writable.
#[inline(always)]
fn span_mut<F, const Q: usize, const L: usize>(values: &mut [F], at: usize) -> &mut [[F; L]; Q] {
    let chunks = values[at..][..Q * L].as_chunks_mut::<L>().0;
    chunks.try_into().expect("Q chunks of L lanes")
}

/// Asks the CPU to bring `value`'s cache line into L1 (a hint; nothing on other targets).
#[inline(always)]
fn prefetch<F>(value: &F) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache and never faults; the address comes from a
    // reference, so it is valid anyway. Every fused-kernel test runs through it.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (value as *const F).cast(),
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value; // no portable prefetch in stable Rust; the hardware prefetcher still runs
}

#[cfg(test)]
mod tests {
    use super::{GROUP, RowOrder, grad_row_stride};

    /// Partial-gradient rows are whole cache lines, and the next four rows start at least two
    /// lines away modulo 4 KiB.
    #[test]
    fn partial_gradient_rows_start_apart_modulo_4k() {
        for d in [1, 16, 785, 1000, 1024, 3072, 3073, 4096] {
            for (stride, size) in [(grad_row_stride::<f32>(d), 4), (grad_row_stride::<f64>(d), 8)] {
                assert!(stride >= d && stride * size % 64 == 0, "D={d}: stride {stride}");
                for rows in 1..=4 {
                    let offset = rows * stride * size % 4096;
                    assert!((128..=4096 - 128).contains(&offset), "D={d}, {rows} rows: {offset}");
                }
            }
        }
    }

    /// Every row is taken exactly once, for block sizes with and without rows left over.
    #[test]
    fn row_order_is_a_permutation() {
        for (n_rows, n_features) in [(0, 3073), (5, 3073), (256, 3073), (300, 3073), (1000, 1025)] {
            let order = RowOrder::new::<f32>(n_rows, n_features);
            let mut rows: Vec<usize> = (0..n_rows).map(|p| order.row(p)).collect();
            rows.sort_unstable();
            assert_eq!(rows, (0..n_rows).collect::<Vec<_>>(), "N={n_rows} D={n_features}");
        }
    }

    /// CIFAR-10's rows (3,073 float32 values, 4 bytes past three pages) are spread 32 apart, and
    /// a group then takes rows 0, 32, 64, …; MNIST's (785 values) keep their order.
    #[test]
    fn row_order_spreads_rows_that_share_cache_sets() {
        let cifar = RowOrder::new::<f32>(512, 3073);
        let group: Vec<usize> = (0..GROUP).map(|p| cifar.row(p)).collect();
        assert_eq!(group, [0, 32, 64, 96, 128, 160, 192, 224]);
        assert_eq!(cifar.row(GROUP), 1);
        assert_eq!(cifar.row(256), 256);
        assert_eq!(RowOrder::new::<f64>(512, 3073).row(1), 16);
        let mnist = RowOrder::new::<f32>(512, 785);
        assert!((0..512).all(|p| mnist.row(p) == p));
        // A stride of whole pages has no spacing that helps: the order is kept.
        let pages = RowOrder::new::<f32>(512, 1024);
        assert!((0..512).all(|p| pages.row(p) == p));
    }
}
