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
    // float32 L-BFGS: the losses, summed in f64 by the kernels, travel in f64.
    let float32 = ["--data", &data, "--iters", "30", "--no-mmap", "--dtype", "f32"];
    same_model_for(&[2], &float32, dir.path());
}

/// A pseudo-random byte stream (a linear congruential generator), for synthetic files.
fn bytes(seed: u64) -> impl FnMut() -> u8 {
    let mut state = seed;
    move || {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 56) as u8
    }
}

/// `n` labels in 0..10 and `n` images of `pixels` bytes each, pixel j of an image of label y
/// brighter where j ≡ y (mod 10): something to learn.
fn labelled_images(n: usize, pixels: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut next = bytes(seed);
    let labels: Vec<u8> = (0..n).map(|_| next() % 10).collect();
    let images = labels
        .iter()
        .flat_map(|&y| {
            (0..pixels)
                .map(|j| next() / 2 + if j % 10 == usize::from(y) { 100 } else { 0 })
                .collect::<Vec<_>>()
        })
        .collect();
    (labels, images)
}

/// MNIST-format files in `dir`: 1,800 training and 200 test images of 8×8 (the training labels
/// gzipped, the rest plain: the images are read by offset).
fn synthetic_mnist(dir: &Path) -> String {
    for (name, n, seed) in [("train", 1800, 1), ("t10k", 200, 2)] {
        let (labels, images) = labelled_images(n, 64, seed);
        let mut image_file = [2051u32, n as u32, 8, 8].map(u32::to_be_bytes).concat();
        image_file.extend(images);
        std::fs::write(dir.join(format!("{name}-images-idx3-ubyte")), image_file).unwrap();
        let mut label_file = [2049u32, n as u32].map(u32::to_be_bytes).concat();
        label_file.extend(labels);
        let labels_path = dir.join(format!("{name}-labels-idx1-ubyte"));
        if name == "train" {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut encoder, &label_file).unwrap();
            std::fs::write(labels_path.with_extension("gz"), encoder.finish().unwrap()).unwrap();
        } else {
            std::fs::write(labels_path, label_file).unwrap();
        }
    }
    format!("mnist:{}", text(dir))
}

/// CIFAR-10 binary batches in `dir`: 5 × 400 training records and 200 test records, plain.
fn synthetic_cifar(dir: &Path) -> String {
    let names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"];
    for (seed, name) in names.into_iter().chain(["test_batch"]).enumerate() {
        let n = if name == "test_batch" { 200 } else { 400 };
        let (labels, images) = labelled_images(n, 3072, seed as u64);
        let records: Vec<u8> = labels
            .iter()
            .zip(images.chunks_exact(3072))
            .flat_map(|(&label, image)| std::iter::once(label).chain(image.iter().copied()))
            .collect();
        std::fs::write(dir.join(format!("{name}.bin")), records).unwrap();
    }
    format!("cifar10:{}", text(dir))
}

#[test]
fn idx_and_cifar_records_read_by_offset_give_the_one_process_model_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mnist = dir.path().join("mnist");
    std::fs::create_dir(&mnist).unwrap();
    let mnist = synthetic_mnist(&mnist);
    // 1,620 training rows (16 blocks): each process reads its own images, and its share of
    // the validation and test images.
    same_model_for(&[2, 4], &["--data", &mnist, "--iters", "25"], dir.path());
    let cifar = dir.path().join("cifar");
    std::fs::create_dir(&cifar).unwrap();
    let cifar = synthetic_cifar(&cifar);
    let args = ["--data", &cifar, "--cifar-validation", "100", "--iters", "8"];
    same_model_for(&[2, 4], &[&args[..], &["--preprocess", "standardize"]].concat(), dir.path());
}

/// A LIBSVM file in `dir`: 1,800 rows of 5 classes over 40 features, about 6 nonzeros each,
/// one of them (feature 8·y + something) telling the class.
fn synthetic_libsvm(dir: &Path) -> String {
    let mut next = bytes(3);
    let lines: Vec<String> = (0..1800)
        .map(|_| {
            let label = next() % 5;
            let mut features: Vec<u8> = (0..5).map(|_| next() % 40 + 1).collect();
            features.push(8 * label + next() % 8 + 1);
            features.sort_unstable();
            features.dedup();
            let values: Vec<String> = features
                .iter()
                .map(|&k| format!("{k}:{}", f64::from(next()) / 64.0 + 0.5))
                .collect();
            format!("{label} {}", values.join(" "))
        })
        .collect();
    let path = dir.join("train.libsvm");
    std::fs::write(&path, lines.join("\n")).unwrap();
    format!("libsvm:{}", text(&path))
}

#[test]
fn the_sparse_kernel_gives_the_one_process_model_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic_libsvm(dir.path());
    let args = ["--data", &data, "--kernel", "sparse", "--iters", "30"];
    same_model_for(&[2, 4], &args, dir.path());
    // `auto` picks the sparse kernel (about 15% nonzero) from the whole split's count, in a
    // group as alone.
    same_model_for(&[2], &["--data", &data, "--iters", "30"], dir.path());
    // Minibatches: reproducible for a number of processes.
    let minibatch = [&args[..4], &["--optimizer", "adam", "--epochs", "1"]].concat();
    let runs: Vec<Vec<u8>> = ["a", "b"]
        .map(|name| {
            let path = dir.path().join(format!("{name}.safetensors"));
            let out = mpirun(2, &[&minibatch[..], &["--model", &text(&path)]].concat());
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            std::fs::read(&path).unwrap()
        })
        .into();
    assert!(runs[0] == runs[1], "two sparse minibatch runs on 2 processes differ");
}

/// Runs `mpirun` that must fail: every process non-zero within seconds, no model file, and
/// the cause on stderr (which is returned).
fn fails_fast(processes: usize, args: &[&str], model: &Path, cause: &str) -> String {
    let started = Instant::now();
    let out = mpirun(processes, &[&["--model", &text(model)], args].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(started.elapsed() < Duration::from_secs(60), "{args:?} took {:?}", started.elapsed());
    assert!(stderr.contains(cause), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing printed on failure");
    assert!(!model.exists(), "no model file written");
    stderr.into_owned()
}

#[test]
fn a_missing_or_corrupt_file_ends_every_process_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.safetensors");
    let missing = dir.path().join("missing.npy");
    let data = format!("npy:{},{}", text(&missing), text(&missing));
    let _ = fails_fast(2, &["--data", &data], &model, "missing.npy");
    let corrupt = dir.path().join("corrupt.npy");
    std::fs::write(&corrupt, b"\x93NUMPY\x01\x00not a header").unwrap();
    let data = format!("npy:{},{}", text(&corrupt), text(&corrupt));
    let _ = fails_fast(4, &["--data", &data], &model, "corrupt.npy");
}

#[test]
fn a_process_that_alone_cannot_read_its_rows_ends_every_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic_npy(dir.path());
    // A NaN in the last row: with no validation split, only the last process reads it.
    let inputs = dir.path().join("x.npy");
    let mut bytes = std::fs::read(&inputs).unwrap();
    let last = bytes.len() - 4;
    bytes[last..].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&inputs, bytes).unwrap();
    let model = dir.path().join("model.safetensors");
    let args = ["--data", &data, "--val-fraction", "0"];
    let cause = "process 1 of 2: loading npy:";
    let stderr = fails_fast(2, &args, &model, cause);
    let own = "x.npy: sample 2999, feature 23: NaN is not finite";
    assert_eq!(stderr.matches(own).count(), 1, "only process 1 reads the row: {stderr}");
    assert!(stderr.contains("process 0 of 2: training failed: process 1 of 2 failed"), "{stderr}");
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
    let refused = "kernel 'naive' does not train across processes";
    let _ = fails_fast(2, &["--kernel", "naive"], &model, refused);
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
