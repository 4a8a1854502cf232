//! The command line, as a user runs it: the JSON contract, .npy files NumPy wrote, and a clear
//! error (never a panic) for every kind of bad input.

use std::path::Path;

use crate::common::{
    failure, fixture, json, matrix, reference, relative_difference, relative_scalar_difference,
    softmax, write_npy_vector,
};
use softmax::npy::{Matrix, read_matrix};

fn path(name: &str) -> String {
    fixture(name).display().to_string()
}

fn loss_args<'a>(w: &'a str, x: &'a str, y: &'a str) -> Vec<&'a str> {
    vec!["loss", "--weights", w, "--inputs", x, "--labels", y]
}

#[test]
fn loss_prints_the_contract_and_matches_numpy() {
    let reference = reference();
    let dir = tempfile::tempdir().unwrap();
    for case in &reference.cases {
        for kernel in ["naive", "vectorized", "fused", "sparse", "auto"] {
            let grad_out =
                dir.path().join(format!("dW_{}_{}_{kernel}.npy", case.loss, case.reg_convention));
            let (w, x, y) = (path("W_f64.npy"), path("X_f64.npy"), path("y_i64.npy"));
            let mut args = loss_args(&w, &x, &y);
            let grad_path = grad_out.display().to_string();
            args.extend([
                "--reg",
                "0.1",
                "--reg-convention",
                &case.reg_convention,
                "--loss",
                &case.loss,
            ]);
            args.extend(["--kernel", kernel, "--grad-out", &grad_path]);
            let out = json(&args);
            assert!(
                relative_scalar_difference(out["loss"].as_f64().unwrap(), case.loss_value) < 1e-12
            );
            let expected_kernel = if kernel == "auto" { "fused" } else { kernel };
            assert_eq!(out["kernel"], expected_kernel);
            assert_eq!(
                (out["n_samples"].as_u64(), out["n_features"].as_u64(), out["n_classes"].as_u64()),
                (Some(6), Some(5), Some(4))
            );
            assert_eq!(out["reg"], 0.1);
            assert_eq!(out["reg_convention"], case.reg_convention.as_str());
            assert_eq!(out["dtype"], "float64");
            let Matrix::F64(grad) = read_matrix(&grad_out).unwrap() else {
                panic!("float64 gradient")
            };
            assert!(relative_difference(grad.view(), matrix(&case.grad).view()) < 1e-12);
        }
    }
}

#[test]
fn loss_in_float32_and_other_label_dtypes() {
    let reference = reference();
    let expected =
        reference.cases.iter().find(|c| c.loss == "softmax" && c.reg_convention == "half").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let grad_out = dir.path().join("dW.npy");
    for labels in ["y_i64.npy", "y_i32.npy", "y_u8.npy"] {
        let (w, x, y, g) =
            (path("W_f32.npy"), path("X_f32.npy"), path(labels), grad_out.display().to_string());
        let mut args = loss_args(&w, &x, &y);
        args.extend(["--reg", "0.1", "--grad-out", &g]);
        let out = json(&args);
        assert_eq!(out["dtype"], "float32");
        assert!(
            relative_scalar_difference(out["loss"].as_f64().unwrap(), expected.loss_value) < 1e-5
        );
        let Matrix::F32(grad) = read_matrix(&grad_out).unwrap() else {
            panic!("float32 gradient, as W")
        };
        assert!(
            relative_difference(grad.mapv(f64::from).view(), matrix(&expected.grad).view()) < 1e-5
        );
    }
}

#[test]
fn loss_reads_every_layout_and_byte_order() {
    let reference = reference();
    let expected =
        reference.cases.iter().find(|c| c.loss == "svm" && c.reg_convention == "full").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let grad_out = dir.path().join("dW.npy");
    let g = grad_out.display().to_string();
    for (w, x, layout) in [
        ("W_f64.npy", "X_f64_fortran.npy", "canonical"),
        ("W_f64.npy", "X_bigendian_f64.npy", "canonical"),
        ("W_f64.npy", "X_seed_f64.npy", "seed"),
        ("W_cs231n_f64.npy", "X_f64.npy", "cs231n"),
    ] {
        let (w, x, y) = (path(w), path(x), path("y_i64.npy"));
        let mut args = loss_args(&w, &x, &y);
        args.extend([
            "--loss",
            "svm",
            "--reg",
            "0.1",
            "--reg-convention",
            "full",
            "--layout",
            layout,
            "--grad-out",
            &g,
        ]);
        let out = json(&args);
        assert!(
            relative_scalar_difference(out["loss"].as_f64().unwrap(), expected.loss_value) < 1e-12,
            "{layout}"
        );
        assert_eq!(out["n_samples"], 6);
        let Matrix::F64(grad) = read_matrix(&grad_out).unwrap() else { panic!() };
        let expected_grad = matrix(&expected.grad);
        let expected_grad =
            if layout == "cs231n" { expected_grad.t().to_owned() } else { expected_grad };
        assert!(relative_difference(grad.view(), expected_grad.view()) < 1e-12, "{layout}");
    }
}

#[test]
fn threads_do_not_change_the_result() {
    let (w, x, y) = (path("W_f64.npy"), path("X_f64.npy"), path("y_i64.npy"));
    let losses: Vec<_> = ["1", "2", "3"]
        .iter()
        .map(|t| {
            let mut args = loss_args(&w, &x, &y);
            args.extend(["--threads", t]);
            json(&args)["loss"].clone()
        })
        .collect();
    assert_eq!(losses[0], losses[1]);
    assert_eq!(losses[0], losses[2]);
}

/// A negative number given to an option is its value, refused by the option's own check (it
/// was taken for an unknown option: "unexpected argument '-1' found").
#[test]
fn negative_values_are_refused_by_their_options() {
    for (args, named) in [
        (&["train", "--lr", "-1"][..], "the learning rate must be finite and > 0, got -1"),
        (&["train", "--val-fraction", "-0.1"], "--val-fraction must be in [0, 1), got -0.1"),
        (&["gradcheck", "--random", "5,4,3", "--step", "-1"], "step must be finite and > 0"),
    ] {
        let stderr = failure(args);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

/// Counts, shapes and thread counts beyond their limits are refused with an error naming them,
/// before anything is allocated or started (they aborted, panicked, or ran for minutes).
#[test]
fn counts_shapes_and_threads_beyond_their_limits_are_refused() {
    for checks in ["1000001", "1000000000000", "18446744073709551615"] {
        let stderr = failure(&["gradcheck", "--random", "6,5,4", "--checks", checks]);
        let named =
            format!("checks must be at most 1000000 (each costs two loss passes), got {checks}");
        assert!(stderr.contains(&named), "{stderr}");
    }
    for (random, why) in [
        ("100000000000,100000,100000", "more memory than this system grants"),
        ("18446744073709551615,2,2", "more than one allocation can hold"),
    ] {
        let stderr = failure(&["gradcheck", "--random", random]);
        assert!(stderr.contains("classes is too large") && stderr.contains(why), "{stderr}");
    }
    let shape =
        ["bench", "--kernel", "fused", "--n", "4000000000000", "--d", "4000000", "--c", "3"];
    let stderr = failure(&shape);
    let named = "N = 4000000000000 samples, D = 4000000 features and C = 3 classes is too large";
    assert!(stderr.contains(named), "{stderr}");
    let stderr = failure(&["bench", "--n", "10", "--d", "3", "--c", "2", "--reps", "1000001"]);
    assert!(stderr.contains("reps must be at most 1000000") && stderr.contains("got 1000001"));

    let (w, x, y) = (path("W_f64.npy"), path("X_f64.npy"), path("y_i64.npy"));
    let csv = format!("csv:{}", path("data/digits_named.csv"));
    let train = ["train", "--data", &csv, "--label-column", "digit", "--iters", "3", "--quiet"];
    let runs: [&[&str]; 4] = [
        &[&loss_args(&w, &x, &y)[..], &["--threads", "1025"]].concat(),
        &[&train[..], &["--threads", "2000"]].concat(),
        &["gradcheck", "--random", "6,5,4", "--threads", "1000000"],
        &["bench", "--n", "10", "--d", "3", "--c", "2", "--threads", "18446744073709551615"],
    ];
    for args in runs {
        let stderr = failure(args);
        assert!(stderr.contains("--threads must be at most 1024"), "{args:?}: {stderr}");
    }
}

/// Weights, inputs, labels, extra arguments, and words the error message must contain.
type BadCase<'a> = (&'a str, &'a str, &'a str, Vec<&'a str>, Vec<&'a str>);

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.npy").display().to_string();
    let cases: Vec<BadCase> = vec![
        (
            "W_f64.npy",
            "X_f64.npy",
            "y_negative.npy",
            vec![],
            vec!["y_negative.npy", "-1", "index 2"],
        ),
        ("W_f64.npy", "X_f64.npy", "y_float.npy", vec![], vec!["y_float.npy", "dtype", "<f8"]),
        ("W_f64.npy", "X_f64.npy", "y_2d_i64.npy", vec![], vec!["y_2d_i64.npy", "1-D", "(6, 1)"]),
        (
            "W_f64.npy",
            "X_nan_f64.npy",
            "y_i64.npy",
            vec![],
            vec!["X_nan_f64.npy", "NaN", "sample 3, feature 1"],
        ),
        (
            "W_inf_f64.npy",
            "X_f64.npy",
            "y_i64.npy",
            vec![],
            vec!["W_inf_f64.npy", "inf", "class 1, feature 2"],
        ),
        (
            "W_f64.npy",
            "X_f16.npy",
            "y_i64.npy",
            vec![],
            vec!["X_f16.npy", "unsupported dtype", "<f2"],
        ),
        ("W_f64.npy", "X_i32.npy", "y_i64.npy", vec![], vec!["X_i32.npy", "unsupported dtype"]),
        ("W_f64.npy", "X_1d_f64.npy", "y_i64.npy", vec![], vec!["X_1d_f64.npy", "2-D", "(5,)"]),
        ("W_f64.npy", "X_empty_f64.npy", "y_i64.npy", vec![], vec!["X_empty_f64.npy", "N = 0"]),
        (
            "W_f64.npy",
            "X_truncated_f64.npy",
            "y_i64.npy",
            vec![],
            vec!["X_truncated_f64.npy", "truncated", "(6, 5)"],
        ),
        (
            "W_f64.npy",
            "not_npy.npy",
            "y_i64.npy",
            vec![],
            vec!["not_npy.npy", "not a NumPy .npy file"],
        ),
        (
            "W_f32.npy",
            "X_f64.npy",
            "y_i64.npy",
            vec![],
            vec!["dtype mismatch", "W_f32.npy", "float32", "X_f64.npy", "float64"],
        ),
        (
            "W_f64.npy",
            "X_seed_f64.npy",
            "y_i64.npy",
            vec![],
            vec!["X_seed_f64.npy", "[4, 5]", "[5, 6]", "features"],
        ),
        (
            "W_f64.npy",
            "X_f64.npy",
            "y_i64.npy",
            vec!["--layout", "cs231n"],
            vec!["[4, 5] (D = 4)", "cs231n", "W: D×C"],
        ),
        ("W_f64.npy", "X_f64.npy", "y_i64.npy", vec!["--reg", "-1"], vec!["reg", "-1"]),
        (
            "W_f64.npy",
            "X_f64.npy",
            "y_i64.npy",
            vec!["--kernel", "fast"],
            vec!["fast", "naive, vectorized, fused, gemm, sparse, auto"],
        ),
    ];
    for (w, x, y, extra, words) in cases {
        let (w, x, y) = (path(w), path(x), path(y));
        let mut args = loss_args(&w, &x, &y);
        args.extend(extra);
        let stderr = failure(&args);
        for word in words {
            assert!(stderr.contains(word), "{args:?}: '{word}' missing from: {stderr}");
        }
    }
    // Label count and range need labels that do not fit: X has 6 samples, W 4 classes.
    let labels_out_of_range = dir.path().join("y_big.npy");
    write_labels(&labels_out_of_range, &[0, 1, 2, 3, 4, 0]);
    let too_few = dir.path().join("y_few.npy");
    write_labels(&too_few, &[0, 1]);
    let (w, x) = (path("W_f64.npy"), path("X_f64.npy"));
    let big = labels_out_of_range.display().to_string();
    let stderr = failure(&loss_args(&w, &x, &big));
    assert!(stderr.contains("label 4 at index 4") && stderr.contains("y_big.npy"), "{stderr}");
    let few = too_few.display().to_string();
    let stderr = failure(&loss_args(&w, &x, &few));
    assert!(stderr.contains("2 labels for 6 samples") && stderr.contains("y_few.npy"), "{stderr}");
    let stderr = failure(&loss_args(&w, &missing, &few));
    assert!(stderr.contains("missing.npy") && stderr.contains("No such file"), "{stderr}");
}

/// Writes a 1-D int64 `.npy` as `np.save` does (format 1.0, header padded to 64 bytes).
fn write_labels(path: &Path, labels: &[i64]) {
    let data: Vec<u8> = labels.iter().flat_map(|label| label.to_le_bytes()).collect();
    write_npy_vector(path, "<i8", labels.len(), &data);
}

#[test]
fn a_failed_loss_leaves_an_existing_gradient_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let grad_out = dir.path().join("dW.npy");
    std::fs::write(&grad_out, b"precious").unwrap();
    let (w, x, y, g) = (
        path("W_f64.npy"),
        path("X_nan_f64.npy"),
        path("y_i64.npy"),
        grad_out.display().to_string(),
    );
    let mut args = loss_args(&w, &x, &y);
    args.extend(["--grad-out", &g]);
    failure(&args);
    assert_eq!(std::fs::read(&grad_out).unwrap(), b"precious");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
}

#[test]
fn gradcheck_on_random_data_and_on_files() {
    let out =
        json(&["gradcheck", "--random", "40,12,5", "--reg", "0.5", "--checks", "15", "--json"]);
    assert!(out["max_relative_error"].as_f64().unwrap() < 1e-7, "{out}");
    assert_eq!(out["checks"].as_array().unwrap().len(), 15);
    let first = &out["checks"][0];
    for key in ["index", "numerical", "analytic", "relative_error"] {
        assert!(!first[key].is_null(), "{key} missing in {first}");
    }
    let (w, x, y) = (path("W_f32.npy"), path("X_f32.npy"), path("y_u8.npy"));
    let out = json(&["gradcheck", "--weights", &w, "--inputs", &x, "--labels", &y, "--json"]);
    assert!(out["max_relative_error"].as_f64().unwrap() < 1e-7, "{out}");
    // The text form, as CS231n prints it.
    let out = softmax(&["gradcheck", "--random", "20,6,3", "--checks", "3"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("numerical:").count(), 3, "{text}");
    assert!(text.contains("relative error:") && text.contains("max relative error"), "{text}");
    // Bad arguments.
    assert!(failure(&["gradcheck", "--random", "20,0,3"]).contains("N,D,C"));
    assert!(failure(&["gradcheck", "--random", "5,4,3", "--checks", "0"]).contains("checks"));
    failure(&["gradcheck"]);
}

#[test]
fn explain_prints_a_checked_worked_example() {
    for loss in ["softmax", "svm"] {
        let out = softmax(&["explain", "--loss", loss, "--seed", "3"]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains('✓') && !text.contains("MISMATCH"), "{text}");
    }
}

/// `bench --json` prints the contract, one object per kernel and line: the four dense kernels,
/// and the sparse one too with `--density`; min ≤ median ≤ max, and GFLOP/s and GB/s are
/// 4·N·D·C flops and N·D values read over the median. A density outside (0, 1] is refused.
#[test]
fn bench_prints_one_json_object_per_kernel() {
    let (n, d, c) = (300, 40, 5);
    let dense = ["naive", "vectorized", "fused", "gemm"];
    let with_sparse = ["naive", "vectorized", "fused", "gemm", "sparse"];
    for (density, kernels) in [(None, &dense[..]), (Some("0.2"), &with_sparse[..])] {
        let mut args = vec!["bench", "--n", "300", "--d", "40", "--c", "5", "--reps", "3"];
        args.extend(["--threads", "2", "--dtype", "f64", "--json"]);
        args.extend(density.iter().flat_map(|p| ["--density", p]));
        let out = softmax(&args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let names: Vec<&str> = lines.iter().map(|t| t["kernel"].as_str().unwrap()).collect();
        assert_eq!(names, kernels, "{args:?}");
        for t in &lines {
            let keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
            let expected = ["kernel", "isa", "n", "d", "c", "dtype", "threads", "median_ms"];
            assert_eq!(keys, [&expected[..], &["min_ms", "max_ms", "gflops", "gbps"]].concat());
            assert_eq!(
                (t["n"].as_u64(), t["d"].as_u64(), t["c"].as_u64()),
                (Some(300), Some(40), Some(5))
            );
            assert_eq!((t["dtype"].as_str(), t["threads"].as_u64()), (Some("float64"), Some(2)));
            assert_eq!(t["isa"].as_str(), Some(softmax::Isa::detect().name()));
            let field = |name: &str| t[name].as_f64().unwrap();
            let median = field("median_ms");
            assert!(field("min_ms") <= median && median <= field("max_ms"), "{t}");
            let flops = 4.0 * (n * d * c) as f64;
            assert!(relative_scalar_difference(field("gflops"), flops / (median * 1e6)) < 1e-9);
            let bytes = (n * d * 8) as f64;
            assert!(relative_scalar_difference(field("gbps"), bytes / (median * 1e6)) < 1e-9);
        }
    }
    for isa in softmax::Isa::available() {
        let out =
            softmax(&["bench", "--n", "10", "--d", "3", "--c", "2", "--json", "--isa", isa.name()]);
        let line = String::from_utf8(out.stdout).unwrap();
        assert!(line.contains(&format!("\"isa\":\"{isa}\"")), "{isa}: {line}");
    }
    let stderr = failure(&["bench", "--n", "10", "--d", "3", "--c", "2", "--isa", "sse9"]);
    assert!(stderr.contains("instruction set sse9 is not available"), "{stderr}");
    for bad in ["0", "1.5", "-0.1", "nan"] {
        let density = format!("--density={bad}");
        let stderr = failure(&["bench", "--n", "10", "--d", "3", "--c", "2", &density]);
        assert!(stderr.contains("density") && stderr.contains("(0, 1]"), "{bad}: {stderr}");
    }
}
