//! `softmax bench`: time loss+gradient passes on seeded synthetic data, per kernel.

use anyhow::{Result, bail};
use softmax::Kernel;
use softmax::bench::{Shape, Timing, Workload};
use softmax::fit::Dtype;

use crate::options::start_threads;
use crate::output::print_line;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A named shape: cifar (49000×3073, C=10) | mnist (60000×785, C=10) | dev (500×3073) |
    /// minibatch (200×3073) | manyclass (10000×512, C=1000). Ignored with --n, --d and --c.
    #[arg(long, default_value = "cifar")]
    shape: Shape,
    /// Samples N (with --d and --c instead of --shape).
    #[arg(long, requires_all = ["d", "c"])]
    n: Option<usize>,
    /// Features D.
    #[arg(long, requires_all = ["n", "c"])]
    d: Option<usize>,
    /// Classes C.
    #[arg(long, requires_all = ["n", "d"])]
    c: Option<usize>,
    /// Kernel: naive | vectorized | fused | gemm | sparse | auto | all (the four dense kernels;
    /// naive is slow on the large shapes).
    #[arg(long, default_value = "all")]
    kernel: String,
    /// Element type: f32 | f64.
    #[arg(long, default_value = "f32")]
    dtype: Dtype,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Timed passes per kernel (after one warm-up pass); the median is reported.
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// One JSON object per kernel and line instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    start_threads(args.threads)?;
    let kernels: Vec<Kernel> = match args.kernel.as_str() {
        "all" => vec![Kernel::Naive, Kernel::Vectorized, Kernel::Fused, Kernel::Gemm],
        name => vec![name.parse()?],
    };
    let dims = match (args.n, args.d, args.c) {
        (Some(n), Some(d), Some(c)) if n > 0 && d > 0 && c > 0 => (n, d, c),
        (Some(_), Some(_), Some(_)) => bail!("--n, --d and --c must be at least 1"),
        _ => args.shape.dims(),
    };
    let timings = match args.dtype {
        Dtype::F64 => time_all(Workload::<f64>::new(dims, 0), &kernels, args.reps)?,
        Dtype::F32 => time_all(Workload::<f32>::new(dims, 0), &kernels, args.reps)?,
        Dtype::Auto => bail!("--dtype must be f32 or f64"),
    };
    if !args.json {
        let (n, d, c) = dims;
        print_line(&format!(
            "loss+gradient pass, N={n} D={d} C={c}, {}, {} threads, {} reps",
            timings[0].dtype, timings[0].threads, args.reps
        ))?;
        print_line(&format!(
            "{:<11} {:>10} {:>10} {:>10} {:>9} {:>8}",
            "kernel", "median ms", "min ms", "max ms", "GFLOP/s", "GB/s"
        ))?;
    }
    for t in &timings {
        let line = match args.json {
            true => serde_json::to_string(t)?,
            false => format!(
                "{:<11} {:>10.3} {:>10.3} {:>10.3} {:>9.1} {:>8.2}",
                t.kernel, t.median_ms, t.min_ms, t.max_ms, t.gflops, t.gbps
            ),
        };
        print_line(&line)?;
    }
    Ok(())
}

fn time_all<F: softmax::Float>(
    workload: Workload<F>,
    kernels: &[Kernel],
    reps: usize,
) -> Result<Vec<Timing>> {
    kernels.iter().map(|&kernel| Ok(workload.time(kernel, reps)?)).collect()
}
