//! Training across processes (the `mpi` feature): `mpirun -np K softmax train` on this
//! machine's loopback writes the model file of one process, bit for bit, for K in {2, 4}; a
//! process that cannot read its data, or options that differ between processes, end every
//! process with an error, quickly, and no model file.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use softmax::synthetic::random_problem;

use crate::common::{text, write_npy_vector};

/// Runs `softmax train` under `mpirun -np processes` (each process on its own core or not:
/// `--oversubscribe`; as root, as CI runs, `--allow-run-as-root`), with one thread each.
fn mpirun(processes: usize, args: &[&str]) -> Output {
    let mut command = Command::new("mpirun");
    command.args(["--oversubscribe", "-np", &processes.to_string()]);
    if is_root() {
        command.arg("--allow-run-as-root");
    }
    // --json: `mpirun` hands its processes a terminal, where the words would follow the JSON.
    let train = ["train", "--quiet", "--json", "--threads", "1"];
    command.arg(env!("CARGO_BIN_EXE_softmax")).args(train);
    command.args(args).output().expect("mpirun runs (Open MPI's mpirun must be on PATH)")
}

/// Whether the tests run as root (whom `mpirun` refuses without `--allow-run-as-root`).
fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Trains once alone (no `mpirun`) and once under `mpirun` for each of `processes`, with
/// `args`; each model file must equal the one-process file byte for byte, and each JSON line
/// (printed once) must say how many processes trained it.
fn same_model_for(processes: &[usize], args: &[&str], dir: &Path) {
    let alone = dir.join("alone.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_softmax"))
        .args(["train", "--quiet", "--threads", "1", "--model", &text(&alone)])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["processes"], 1);
    let expected = std::fs::read(&alone).unwrap();
    for &k in processes {
        let path = dir.join(format!("{k}.safetensors"));
        let out = mpirun(k, &[&["--model", &text(&path)], args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{k} processes: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "one JSON line from {k} processes: {stdout}");
        let line: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(line["processes"], k);
        assert_eq!(line["objective"], summary["objective"], "{k} processes");
        assert_eq!(line["test_accuracy"], summary["test_accuracy"], "{k} processes");
        assert_eq!(line["n_train"], summary["n_train"], "{k} processes");
        assert!(std::fs::read(&path).unwrap() == expected, "{k} processes: another model file");
    }
}

#[test]
fn digits_give_the_one_process_model_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    // L-BFGS to convergence (104 iterations), and standardized features (means and deviations
    // summed over processes).
    same_model_for(&[2, 4], &[], dir.path());
    same_model_for(&[2], &["--preprocess", "standardize", "--iters", "40"], dir.path());
}

/// A synthetic `.npy` problem of 3,000 rows (2,700 to train: 16 blocks), D = 24, C = 5, the
/// labels those of a planted linear model (so that training has something to learn).
fn synthetic_npy(dir: &Path) -> String {
    let problem = random_problem::<f32>(3000, 24, 5, 0.6, 14);
    let scores = problem.inputs.dot(&problem.weights.t());
    let planted: Vec<usize> = scores
        .outer_iter()
        .map(|row| (0..row.len()).fold(0, |best, j| if row[j] > row[best] { j } else { best }))
        .collect();
    let inputs = dir.join("x.npy");
    softmax::npy::write_matrix(&inputs, problem.inputs.view()).unwrap();
    let labels = dir.join("y.npy");
    let bytes: Vec<u8> = planted.iter().flat_map(|&y| (y as i64).to_le_bytes()).collect();
    write_npy_vector(&labels, "<i8", planted.len(), &bytes);
    format!("npy:{},{}", text(&inputs), text(&labels))
}

#[test]
fn a_synthetic_npy_problem_gives_the_one_process_model_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic_npy(dir.path());
    // One process maps an npy: source unless told not to; a group reads it, each process its
    // share: the model it equals bit for bit is the one trained on the rows read into memory.
    same_model_for(&[2, 4], &["--data", &data, "--iters", "30", "--no-mmap"], dir.path());
    // Class weights: the normalizer Σ s_i is the whole split's.
    let weighted = ["--data", &data, "--iters", "20", "--class-weight", "balanced", "--no-mmap"];
    same_model_for(&[4], &weighted, dir.path());
}

/// Runs `mpirun` that must fail: every process non-zero within seconds, no model file, and
/// the cause on stderr.
fn fails_fast(processes: usize, args: &[&str], model: &Path, cause: &str) {
    let started = Instant::now();
    let out = mpirun(processes, &[&["--model", &text(model)], args].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(started.elapsed() < Duration::from_secs(30), "{args:?} took {:?}", started.elapsed());
    assert!(stderr.contains(cause), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing printed on failure");
    assert!(!model.exists(), "no model file written");
}

#[test]
fn a_missing_or_corrupt_file_ends_every_process_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.safetensors");
    let missing = dir.path().join("missing.npy");
    let data = format!("npy:{},{}", text(&missing), text(&missing));
    fails_fast(2, &["--data", &data], &model, "missing.npy");
    let corrupt = dir.path().join("corrupt.npy");
    std::fs::write(&corrupt, b"\x93NUMPY\x01\x00not a header").unwrap();
    let data = format!("npy:{},{}", text(&corrupt), text(&corrupt));
    fails_fast(4, &["--data", &data], &model, "corrupt.npy");
}

#[test]
fn options_that_differ_between_processes_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.safetensors");
    let binary = env!("CARGO_BIN_EXE_softmax");
    let train = |reg: &str| {
        [binary, "train", "--quiet", "--json", "--model", &text(&model), "--reg", reg]
            .map(String::from)
    };
    let mut command = Command::new("mpirun");
    command.arg("--oversubscribe");
    if is_root() {
        command.arg("--allow-run-as-root");
    }
    // MPMD: process 0 with one --reg, process 1 with another.
    command
        .arg("-np")
        .arg("1")
        .args(train("1e-4"))
        .arg(":")
        .arg("-np")
        .arg("1")
        .args(train("1e-3"));
    let started = Instant::now();
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(stderr.contains("process 1 has other options than process 0"), "{stderr}");
    assert!(!model.exists());
}

#[test]
fn kernels_that_cannot_share_a_pass_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.safetensors");
    fails_fast(2, &["--kernel", "naive"], &model, "kernel 'naive' does not train across processes");
}

#[test]
fn minibatch_training_is_reproducible_for_a_number_of_processes() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic_npy(dir.path());
    let run = |processes: usize, name: &str| {
        let path = dir.path().join(name);
        let args =
            ["--data", &data, "--optimizer", "sgd", "--epochs", "2", "--model", &text(&path)];
        let out = mpirun(processes, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (std::fs::read(&path).unwrap(), line["objective"].as_f64().unwrap())
    };
    // The same seed and number of processes: the same file. Another number of processes adds
    // the batch's shares in another order: the same objective to float32 rounding.
    let (first, objective) = run(2, "a.safetensors");
    let (again, _) = run(2, "b.safetensors");
    assert!(first == again, "two runs on 2 processes differ");
    let (_, on_four) = run(4, "c.safetensors");
    assert!((on_four - objective).abs() <= 1e-4 * objective, "{on_four} against {objective}");
}
