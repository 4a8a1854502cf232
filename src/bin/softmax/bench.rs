//! `softmax bench`: time loss+gradient passes on seeded synthetic data, per kernel.

use anyhow::{Result, bail};
use softmax::bench::{Shape, Timing, Workload};
use softmax::fit::Dtype;
use softmax::{Isa, Kernel};

use crate::options::start_threads;
use crate::output::print_line;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A named shape: cifar (49000×3073, C=10) | mnist (60000×785, C=10) | dev (500×3073) |
    /// minibatch (200×3073) | manyclass (10000×512, C=1000) | probe (a linear probe on
    /// embeddings: N×768, C=1000, N = 16000 unless --n says; use --dtype f32, the default).
    /// --n, --d and --c replace its N, D and C; a shape whose X, W and N×C scores do not fit
    /// in memory is refused.
    #[arg(long, default_value = "cifar")]
    shape: Shape,
    /// Samples N, instead of the shape's.
    #[arg(long)]
    n: Option<usize>,
    /// Features D, instead of the shape's.
    #[arg(long)]
    d: Option<usize>,
    /// Classes C, instead of the shape's.
    #[arg(long)]
    c: Option<usize>,
    /// Kernel: naive | vectorized | fused | gemm | sparse | auto | all (the four dense kernels,
    /// and sparse with --density; naive is slow on the large shapes). The sparse kernel is timed
    /// with X's compressed sparse rows built once beforehand, as training does.
    #[arg(long, default_value = "all")]
    kernel: String,
    /// Make X sparse: each entry nonzero with this probability (0 < P ≤ 1), then uniform in
    /// (0, 1], like scaled pixels (MNIST's are 0.19). Without it X is dense, standard normal.
    #[arg(long, value_name = "P")]
    density: Option<f64>,
    /// Element type: f32 | f64.
    #[arg(long, default_value = "f32")]
    dtype: Dtype,
    /// Instruction set of the fused and sparse kernels' loops and the gemm kernel's row steps:
    /// avx512 | avx2 | baseline | auto (the best this CPU has). One the CPU lacks is refused.
    #[arg(long, default_value = "auto")]
    isa: String,
    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Timed passes per kernel (after one warm-up pass), at most 1,000,000; the median is
    /// reported.
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// One JSON object per kernel and line instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    start_threads(args.threads)?;
    let isa = match args.isa.as_str() {
        "auto" => None,
        name => Some(Isa::named(name)?),
    };
    let kernels: Vec<Kernel> = match args.kernel.as_str() {
        "all" => {
            let dense = [Kernel::Naive, Kernel::Vectorized, Kernel::Fused, Kernel::Gemm];
            let sparse = args.density.map(|_| Kernel::Sparse);
            dense.into_iter().chain(sparse).collect()
        }
        name => vec![name.parse()?],
    };
    let (n, d, c) = args.shape.dims();
    let dims = (args.n.unwrap_or(n), args.d.unwrap_or(d), args.c.unwrap_or(c));
    if dims.0 == 0 || dims.1 == 0 || dims.2 == 0 {
        bail!("--n, --d and --c must be at least 1");
    }
    let timings = match args.dtype {
        Dtype::F64 => time_all(workload::<f64>(dims, args.density)?, &kernels, isa, args.reps)?,
        Dtype::F32 => time_all(workload::<f32>(dims, args.density)?, &kernels, isa, args.reps)?,
        Dtype::Auto => bail!("--dtype must be f32 or f64"),
    };
    if !args.json {
        let (n, d, c) = dims;
        let density = args.density.map(|p| format!(", density {p}")).unwrap_or_default();
        print_line(&format!(
            "loss+gradient pass, N={n} D={d} C={c}{density}, {}, {}, {} threads, {} reps",
            timings[0].dtype, timings[0].isa, timings[0].threads, args.reps
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

/// The seeded problem: dense, or sparse with `density`.
fn workload<F: softmax::Float>(
    dims: (usize, usize, usize),
    density: Option<f64>,
) -> Result<Workload<F>> {
    Ok(match density {
        Some(density) => Workload::sparse(dims, density, 0)?,
        None => Workload::new(dims, 0)?,
    })
}

fn time_all<F: softmax::Float>(
    workload: Workload<F>,
    kernels: &[Kernel],
    isa: Option<Isa>,
    reps: usize,
) -> Result<Vec<Timing>> {
    kernels.iter().map(|&kernel| Ok(workload.time(kernel, isa, reps)?)).collect()
}
