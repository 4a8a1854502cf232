//! The fused kernel's inner loops, written by hand because they are the point of the project:
//! for a group of rows of X, the scores f_r = W x_r and the gradient update G += Σ_r g_r x_rᵀ,
//! reading W once per four rows and G once per group instead of once per row. While a group
//! is updated, the next group's rows are prefetched, so that its scores find them in cache.
//!
//! The loops are plain Rust over fixed-size lane arrays (`[F; L]`), which LLVM turns into SIMD
//! registers. Each is compiled three times: for AVX-512 and for AVX2 + FMA (chosen at run time
//! on x86-64), and for the baseline of the target (SSE2 on x86-64, NEON on aarch64). Lanes are
//! summed in a fixed order, so a given machine always gives the same result.

use super::Loss;
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

/// An instruction set the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// x86-64 with AVX-512F (and AVX2, FMA): 16 lanes of f32 per register.
    Avx512,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// The compilation target's baseline (SSE2 on x86-64, NEON on aarch64).
    Baseline,
}

impl Isa {
    /// The best instruction set this CPU has.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            if avx2 && is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if avx2 {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }

    /// Every instruction set this CPU can run, best first (for tests and benchmarks).
    pub fn available() -> Vec<Isa> {
        match Isa::detect() {
            Isa::Avx512 => vec![Isa::Avx512, Isa::Avx2, Isa::Baseline],
            Isa::Avx2 => vec![Isa::Avx2, Isa::Baseline],
            Isa::Baseline => vec![Isa::Baseline],
        }
    }
}

/// One block of rows: X's rows (`n_features` each), W (C×D, row-major), and what to compute on
/// them.
pub struct Block<'a, F> {
    pub weights: &'a [F],
    pub inputs: Rows<'a, F>,
    pub n_features: usize,
    pub pass: Pass<'a, F>,
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

/// What a block computes.
pub enum Pass<'a, F> {
    /// Each row's loss and its gradient: add g xᵀ to the C×D gradient, return the summed loss.
    /// `grad` holds C rows of [`grad_row_stride`] values, of which the first D are G's.
    LossAndGrad { labels: &'a [usize], loss: Loss, grad: &'a mut [F] },
    /// Only the scores X Wᵀ, written to `scores` (rows × C, row-major).
    Scores(&'a mut [F]),
}

/// Runs the block on `isa`. For [`Pass::LossAndGrad`], returns the summed loss, or the index
/// (within the block) of the first row whose scores are not finite; [`Pass::Scores`] returns 0.
pub fn run_block<F: Float>(isa: Isa, block: Block<F>) -> Result<F, usize> {
    match isa {
        // SAFETY: `Isa::Avx512` and `Isa::Avx2` come from `Isa::detect`/`Isa::available`, which
        // return them only when the CPU reports those features, so the target_feature functions
        // run on hardware that has them. Tests run every available `Isa` against the naive kernel.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { block_avx512(block) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { block_avx2(block) },
        // One 128-bit register per accumulator (SSE2, NEON): 4 lanes of f32, 2 of f64.
        _ => match std::mem::size_of::<F>() {
            8 => block_impl::<F, 2, 2, 1, { cfg!(target_arch = "aarch64") }>(block),
            _ => block_impl::<F, 4, 2, 1, { cfg!(target_arch = "aarch64") }>(block),
        },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn block_avx512<F: Float>(block: Block<F>) -> Result<F, usize> {
    // One 512-bit register per accumulator: 16 lanes of f32, 8 of f64 (16 f64 lanes, two
    // registers each, spilled: float64 passes took 1.4× longer).
    match std::mem::size_of::<F>() {
        8 => block_impl::<F, 8, 5, 2, true>(block),
        _ => block_impl::<F, 16, 5, 2, true>(block),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2<F: Float>(block: Block<F>) -> Result<F, usize> {
    // One 256-bit register per accumulator: 8 lanes of f32, 4 of f64.
    match std::mem::size_of::<F>() {
        8 => block_impl::<F, 4, 2, 1, true>(block),
        _ => block_impl::<F, 8, 2, 1, true>(block),
    }
}

/// The block loop: rows in groups of [`GROUP`] (taken in the [`RowOrder`] for D), then the
/// remaining rows one by one. `L` is the number of lanes per accumulator, `P` the classes per
/// register tile of the scores loop, `Q` the lane chunks per span of the update (their rows'
/// chunks take R·Q registers), `FMA` whether `mul_add` is a single instruction.
#[inline(always)]
fn block_impl<F: Float, const L: usize, const P: usize, const Q: usize, const FMA: bool>(
    block: Block<F>,
) -> Result<F, usize> {
    let Block { weights, inputs, n_features, mut pass } = block;
    let n_classes = weights.len() / n_features;
    let n_rows = inputs.len(n_features);
    let order = RowOrder::new::<F>(n_rows, n_features);
    // The row at position p of the processing order.
    let row = |p: usize| inputs.row(order.row(p), n_features);
    let mut scores = vec![F::zero(); GROUP * n_classes]; // reused by every group
    // g = ∂L/∂f of the group, class by class: the update's factors for each class together.
    let mut by_class = vec![[F::zero(); GROUP]; n_classes];
    let mut by_class_single = vec![[F::zero(); 1]; n_classes];
    let mut loss_sum = F::zero();
    let mut start = 0;
    while start < n_rows {
        let group = (n_rows - start).min(GROUP);
        if group == GROUP {
            for (tile, tile_scores) in scores.chunks_exact_mut(TILE_ROWS * n_classes).enumerate() {
                let rows: [&[F]; TILE_ROWS] =
                    std::array::from_fn(|r| row(start + tile * TILE_ROWS + r));
                group_scores::<F, TILE_ROWS, P, L, FMA>(weights, rows, tile_scores);
            }
        } else {
            for r in 0..group {
                let scores_r = &mut scores[r * n_classes..(r + 1) * n_classes];
                group_scores::<F, 1, P, L, FMA>(weights, [row(start + r)], scores_r);
            }
        }
        let (labels, loss, grad) = match &mut pass {
            Pass::Scores(out) => {
                for (r, row_scores) in scores.chunks_exact(n_classes).take(group).enumerate() {
                    let i = order.row(start + r);
                    out[i * n_classes..(i + 1) * n_classes].copy_from_slice(row_scores);
                }
                start += group;
                continue;
            }
            Pass::LossAndGrad { labels, loss, grad } => (*labels, *loss, &mut **grad),
        };
        for (r, row_scores) in scores.chunks_exact_mut(n_classes).take(group).enumerate() {
            let i = order.row(start + r);
            if !row_scores.iter().all(|s| s.is_finite()) {
                return Err(i);
            }
            loss_sum += super::fused::row_loss_and_dscores(loss, row_scores, labels[i]);
        }
        if group == GROUP {
            let rows: [&[F]; GROUP] = std::array::from_fn(|r| row(start + r));
            for (j, factors) in by_class.iter_mut().enumerate() {
                *factors = std::array::from_fn(|r| scores[r * n_classes + j]);
            }
            let next = (start + 2 * GROUP <= n_rows)
                .then(|| std::array::from_fn(|r| row(start + GROUP + r)));
            group_update::<F, GROUP, Q, L, FMA>(grad, rows, &by_class, next);
        } else {
            for r in 0..group {
                for (j, factors) in by_class_single.iter_mut().enumerate() {
                    *factors = [scores[r * n_classes + j]];
                }
                group_update::<F, 1, Q, L, FMA>(grad, [row(start + r)], &by_class_single, None);
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

/// `a·b + c`, fused where the instruction set has FMA.
#[inline(always)]
pub(super) fn fmadd<F: Float, const FMA: bool>(a: F, b: F, c: F) -> F {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Rows in one register tile of the scores loop (a group is two tiles).
const TILE_ROWS: usize = 4;

/// scores[r·C + j] = w_j · x_r for the `R` rows and every class, in register tiles of
/// `R` rows × `P` classes: R·P accumulators, and each lane chunk loaded serves P (for x) or R
/// (for w) multiply-adds. The last tile takes the classes left over.
#[inline(always)]
fn group_scores<F: Float, const R: usize, const P: usize, const L: usize, const FMA: bool>(
    weights: &[F],
    rows: [&[F]; R],
    scores: &mut [F],
) {
    let n_features = rows[0].len();
    let n_classes = weights.len() / n_features;
    let mut first = 0;
    while first + P <= n_classes {
        tile_scores::<F, R, P, L, FMA>(weights, first, rows, scores);
        first += P;
    }
    match n_classes - first {
        0 => {}
        1 => tile_scores::<F, R, 1, L, FMA>(weights, first, rows, scores),
        2 => tile_scores::<F, R, 2, L, FMA>(weights, first, rows, scores),
        3 => tile_scores::<F, R, 3, L, FMA>(weights, first, rows, scores),
        4 => tile_scores::<F, R, 4, L, FMA>(weights, first, rows, scores),
        _ => unreachable!("tiles have at most 5 classes"),
    }
}

/// The scores of the `R` rows for the `P` classes from `first` on.
///
/// The features past the last whole chunk are zero-padded into one more chunk, and the lane sums
/// are taken with `map`: with a scalar loop over the tail for each accumulator instead, LLVM kept
/// the accumulators in memory and stored all of them on every iteration (2.5× slower).
#[inline(always)]
fn tile_scores<F: Float, const R: usize, const P: usize, const L: usize, const FMA: bool>(
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
        tile_step::<F, R, P, L, FMA>(
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
        tile_step::<F, R, P, L, FMA>(
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
fn tile_step<F: Float, const R: usize, const P: usize, const L: usize, const FMA: bool>(
    acc: &mut [[[F; L]; P]; R],
    w: [[F; L]; P],
    x: [[F; L]; R],
) {
    for r in 0..R {
        for p in 0..P {
            for l in 0..L {
                acc[r][p][l] = fmadd::<F, FMA>(w[p][l], x[r][l], acc[r][p][l]);
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

/// G_j += Σ_r g_rj x_r for every class j, with `factors[j]` = (g_rj)_r, in spans of `Q` lane
/// chunks of the features: each span of the R rows is loaded into registers once and serves
/// every class, each class's span of G is read and written once per group, and its `Q` chunks
/// are independent chains of multiply-adds. The `next` rows (the next group's) are prefetched
/// span by span along the way.
#[inline(always)]
fn group_update<F: Float, const R: usize, const Q: usize, const L: usize, const FMA: bool>(
    grad: &mut [F],
    rows: [&[F]; R],
    factors: &[[F; R]],
    next: Option<[&[F]; R]>,
) {
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
            span_update::<F, R, Q, L, FMA>(grad, stride, k, rows, factors);
        } else {
            span_update::<F, R, 1, L, FMA>(grad, stride, k, rows, factors);
        }
        k += span;
    }
    for (grad_j, g) in grad.chunks_exact_mut(stride).zip(factors) {
        for k in chunks_end..n_features {
            for r in 0..R {
                grad_j[k] = fmadd::<F, FMA>(g[r], rows[r][k], grad_j[k]);
            }
        }
    }
}

/// The update of the `Q` lane chunks of every class's G from feature `k` on.
#[inline(always)]
fn span_update<F: Float, const R: usize, const Q: usize, const L: usize, const FMA: bool>(
    grad: &mut [F],
    stride: usize,
    k: usize,
    rows: [&[F]; R],
    factors: &[[F; R]],
) {
    let mut x = [[[F::zero(); L]; Q]; R];
    for r in 0..R {
        for q in 0..Q {
            x[r][q] = *<&[F; L]>::try_from(&rows[r][k + q * L..][..L]).expect("L lanes");
        }
    }
    for (grad_j, g) in grad.chunks_exact_mut(stride).zip(factors) {
        let mut acc = [[F::zero(); L]; Q];
        for q in 0..Q {
            acc[q] = *<&[F; L]>::try_from(&grad_j[k + q * L..][..L]).expect("L lanes");
        }
        for r in 0..R {
            for q in 0..Q {
                for l in 0..L {
                    acc[q][l] = fmadd::<F, FMA>(g[r], x[r][q][l], acc[q][l]);
                }
            }
        }
        for q in 0..Q {
            grad_j[k + q * L..][..L].copy_from_slice(&acc[q]);
        }
    }
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
    use super::{GROUP, RowOrder};

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
