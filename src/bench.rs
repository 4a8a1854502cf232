//! Timing loss+gradient passes on seeded synthetic data: what `softmax bench` reports.
//!
//! One pass does 4·N·D·C flops (two multiply-adds per weight and sample: the scores and the
//! gradient) and must read X (N·D values) at least once; GFLOP/s and GB/s are those counts over
//! the median time, so GB/s against the machine's memory bandwidth says how close a
//! memory-bound pass is to its floor.

use std::time::Instant;

use serde::Serialize;

use crate::loss::sparse::SparseRows;
use crate::names::named_enum;
use crate::synthetic::{check_problem_size, random_problem, random_sparse_problem};
use crate::{Error, Float, Isa, Kernel, LossOptions, Result, loss_and_grad, loss_and_grad_sparse};

named_enum! {
    "shape",
    /// The shapes people train on (N samples, D features, C classes).
    pub enum Shape {
        /// CIFAR-10's training set with the bias trick: 49,000 × 3,073, C = 10.
        #[default]
        Cifar = "cifar",
        /// MNIST's training set with a bias column: 60,000 × 785, C = 10.
        Mnist = "mnist",
        /// CS231n's development subset: 500 × 3,073, C = 10.
        Dev = "dev",
        /// One CS231n minibatch: 200 × 3,073, C = 10.
        Minibatch = "minibatch",
        /// Many classes: 10,000 × 512, C = 1,000.
        Manyclass = "manyclass",
        /// A linear probe on embeddings (ImageNet's 1,000 classes, D = 768 as ViT-B/CLIP
        /// features): N × 768, C = 1,000, with N = 16,000 by default so that one pass (about
        /// 50 GFLOP) takes seconds on a small machine; `softmax bench --n` sets N (ImageNet's
        /// training set is 1,281,167).
        Probe = "probe",
    }
}

impl Shape {
    /// `(N, D, C)`.
    pub fn dims(self) -> (usize, usize, usize) {
        match self {
            Shape::Cifar => (49_000, 3_073, 10),
            Shape::Mnist => (60_000, 785, 10),
            Shape::Dev => (500, 3_073, 10),
            Shape::Minibatch => (200, 3_073, 10),
            Shape::Manyclass => (10_000, 512, 1_000),
            Shape::Probe => (16_000, 768, 1_000),
        }
    }
}

/// The timing of one kernel on one shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timing {
    pub kernel: &'static str,
    /// The instruction set of the fused and sparse kernels' loops (the others do not use it).
    pub isa: &'static str,
    pub n: usize,
    pub d: usize,
    pub c: usize,
    pub dtype: &'static str,
    pub threads: usize,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub gflops: f64,
    pub gbps: f64,
}

/// The most timed passes [`Workload::time`] takes. The median of a million passes is as good
/// as that of any more, and each pass's time is kept until the median is taken: a larger count
/// is a mistake that would otherwise ask for terabytes of times (and abort) or run for days.
pub const MAX_REPS: usize = 1_000_000;

/// A seeded problem of shape (n, d, c) in `F`, ready to be timed.
pub struct Workload<F> {
    problem: crate::synthetic::Problem<F>,
}

impl<F: Float> Workload<F> {
    /// X = randn, W = 0.01·randn (a classifier early in training), uniform labels.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a shape too large ([`check_problem_size`]).
    pub fn new((n, d, c): (usize, usize, usize), seed: u64) -> Result<Self> {
        check_problem_size::<F>((n, d, c))?;
        Ok(Workload { problem: random_problem(n, d, c, 0.01, seed) })
    }

    /// X with each entry nonzero with probability `density` (then uniform in (0, 1], like scaled
    /// pixels), W = 0.01·randn, uniform labels.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] unless 0 < `density` ≤ 1, and for a shape too large
    /// ([`check_problem_size`]).
    pub fn sparse((n, d, c): (usize, usize, usize), density: f64, seed: u64) -> Result<Self> {
        if !(density > 0.0 && density <= 1.0) {
            return Err(Error::InvalidOption(format!(
                "the density of nonzeros must be in (0, 1], got {density}"
            )));
        }
        check_problem_size::<F>((n, d, c))?;
        Ok(Workload { problem: random_sparse_problem(n, d, c, density, 0.01, seed) })
    }

    /// Times `reps` passes of `kernel` (after one warm-up pass) on the current thread pool, its
    /// loops on `isa` (`None`: the best this CPU has); 0 reps is one. The sparse kernel gets X's
    /// compressed sparse rows built once, before the timing, as full-batch training does.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for more than [`MAX_REPS`] reps, and those of the pass.
    pub fn time(&self, kernel: Kernel, isa: Option<Isa>, reps: usize) -> Result<Timing> {
        if reps > MAX_REPS {
            return Err(Error::InvalidOption(format!(
                "reps must be at most {MAX_REPS} (the median of more is no better), got {reps}"
            )));
        }
        let p = &self.problem;
        let isa = isa.unwrap_or_else(Isa::detect);
        let options = LossOptions { kernel, reg: 1e-3, isa: Some(isa), ..Default::default() };
        let rows = match kernel {
            Kernel::Sparse => Some(SparseRows::from_dense(p.inputs.view())?),
            _ => None,
        };
        let pass = || match &rows {
            Some(rows) => loss_and_grad_sparse(p.weights.view(), rows, &p.labels, &options),
            None => loss_and_grad(p.weights.view(), p.inputs.view(), &p.labels, &options),
        };
        pass()?;
        let mut times = Vec::with_capacity(reps.max(1));
        for _ in 0..reps.max(1) {
            let start = Instant::now();
            std::hint::black_box(pass()?);
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let median_ms = times[times.len() / 2];
        let (n, d) = p.inputs.dim();
        let c = p.weights.nrows();
        Ok(Timing {
            kernel: kernel.resolve_for(c, d).name(),
            isa: isa.name(),
            n,
            d,
            c,
            dtype: F::DTYPE_NAME,
            threads: rayon::current_num_threads(),
            median_ms,
            min_ms: times[0],
            max_ms: times[times.len() - 1],
            gflops: 4.0 * n as f64 * d as f64 * c as f64 / (median_ms * 1e6),
            gbps: (n * d * size_of::<F>()) as f64 / (median_ms * 1e6),
        })
    }
}
