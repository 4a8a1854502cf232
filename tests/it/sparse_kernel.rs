//! The sparse kernel (through the checked API) and its CSR rows: the naive kernel's numbers (f64
//! to 1e-10, f32 to 1e-4, relative) on every instruction set the CPU has, the same bits for any
//! thread count, non-finite inputs located, and a CSR that gives back the dense matrix it was
//! built from.

use crate::common::{relative_difference, relative_scalar_difference};
use ndarray::{Array2, ArrayView2, array};
use softmax::loss::sparse::SparseRows;
use softmax::synthetic::{Problem, random_sparse_problem};
use softmax::{
    Error, Float, Isa, Kernel, Loss, LossAndGrad, LossOptions, loss_and_grad, loss_and_grad_sparse,
};

/// (N, D, C, density): one row group or less, several blocks, empty matrices and full ones,
/// D not a multiple of 16, C from 1 to 12 and past one lane tile (17, 40).
const SHAPES: [(usize, usize, usize, f64); 19] = [
    (1, 1, 1, 1.0),
    (1, 5, 2, 0.0),
    (3, 17, 3, 0.3),
    (7, 33, 4, 0.2),
    (20, 31, 5, 0.5),
    (63, 47, 6, 0.1),
    (64, 15, 7, 0.19),
    (65, 100, 8, 0.19),
    (130, 33, 9, 0.05),
    (200, 100, 10, 0.19),
    (257, 65, 11, 1.0),
    (500, 20, 12, 0.02),
    (1100, 785, 10, 0.19),
    (9, 40, 17, 0.5),
    (40, 9, 40, 0.6),
    (30, 1, 3, 0.5),
    (12, 130, 2, 0.0),
    (2000, 50, 10, 0.1),
    (33, 64, 16, 0.3),
];

/// A seeded sparse problem whose row 2 (when there is one) is all zeros, W scaled for scores of
/// order 1.
fn problem<F: Float>((n, d, c, density): (usize, usize, usize, f64), seed: u64) -> Problem<F> {
    let scale = 1.0 / (d as f64 * density.max(0.1)).sqrt();
    let mut p = random_sparse_problem(n, d, c, density, scale, seed);
    if n > 2 {
        p.inputs.row_mut(2).fill(F::zero());
    }
    p
}

/// The naive kernel's loss and gradient (no regularization): the reference.
fn naive<F: Float>(p: &Problem<F>, loss: Loss) -> LossAndGrad<F> {
    let options = LossOptions { loss, kernel: Kernel::Naive, ..Default::default() };
    loss_and_grad(p.weights.view(), p.inputs.view(), &p.labels, &options).unwrap()
}

fn check_against_naive<F: Float>(p: &Problem<F>, isa: Isa, loss: Loss, tolerance: f64) {
    let rows = SparseRows::from_dense(p.inputs.view()).unwrap();
    let options = LossOptions { loss, isa: Some(isa), ..Default::default() };
    let out = loss_and_grad_sparse(p.weights.view(), &rows, &p.labels, &options).unwrap();
    let reference = naive(p, loss);
    let ((n, d), c) = (p.inputs.dim(), p.weights.nrows());
    let what = format!("{isa} {loss} {} N={n} D={d} C={c} nnz={}", F::DTYPE_NAME, rows.nnz());
    assert!(out.loss.is_finite(), "{what}");
    assert_eq!(out.grad.dim(), (c, d), "{what}");
    let loss_error = relative_scalar_difference(out.loss.as_f64(), reference.loss.as_f64());
    assert!(loss_error <= tolerance, "{what}: loss differs by {loss_error:e}");
    let grad_error = relative_difference(out.grad.view(), reference.grad.view());
    assert!(grad_error <= tolerance, "{what}: gradient differs by {grad_error:e}");
}

#[test]
fn sparse_agrees_with_naive_on_every_instruction_set() {
    for (case, &shape) in SHAPES.iter().enumerate() {
        let p64 = problem::<f64>(shape, case as u64);
        let p32 = problem::<f32>(shape, case as u64);
        for isa in Isa::available() {
            for loss in Loss::ALL.iter().copied() {
                check_against_naive(&p64, isa, loss, 1e-10);
                check_against_naive(&p32, isa, loss, 1e-4);
            }
        }
    }
}

/// Every C from 1 to 12 on a shape smaller than one block, for both losses and dtypes.
#[test]
fn sparse_agrees_with_naive_for_every_small_class_count() {
    for c in 1..=12 {
        for isa in Isa::available() {
            for loss in Loss::ALL.iter().copied() {
                check_against_naive(&problem::<f64>((45, 23, c, 0.25), c as u64), isa, loss, 1e-10);
                check_against_naive(&problem::<f32>((45, 23, c, 0.25), c as u64), isa, loss, 1e-4);
            }
        }
    }
}

/// Bit-identical results on 1 and 2 threads (the blocks and their reduction order depend only
/// on N).
#[test]
fn sparse_is_identical_across_thread_counts() {
    for shape in [(3000, 785, 10, 0.19), (777, 40, 3, 0.3)] {
        let p = problem::<f64>(shape, 5);
        let p32 = problem::<f32>(shape, 5);
        let rows = SparseRows::from_dense(p.inputs.view()).unwrap();
        let rows32 = SparseRows::from_dense(p32.inputs.view()).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                Loss::ALL
                    .iter()
                    .map(|&loss| {
                        let options = LossOptions { loss, ..Default::default() };
                        let out =
                            loss_and_grad_sparse(p.weights.view(), &rows, &p.labels, &options);
                        let out32 = loss_and_grad_sparse(
                            p32.weights.view(),
                            &rows32,
                            &p32.labels,
                            &options,
                        );
                        (out.unwrap(), out32.unwrap())
                    })
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(run(1), run(2));
    }
}

/// A NaN or infinity in a row makes that row's scores non-finite: the kernel names its sample
/// (and the error its feature), in the first block, a later one and the last row, on every
/// instruction set.
#[test]
fn non_finite_inputs_report_their_sample() {
    let p = problem::<f64>((1000, 30, 4, 0.2), 9);
    for (sample, feature) in [(0, 0), (150, 4), (640, 29), (999, 17)] {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut inputs = p.inputs.clone();
            inputs[[sample, feature]] = bad;
            let rows = SparseRows::from_dense(inputs.view()).unwrap();
            for isa in Isa::available() {
                for loss in Loss::ALL.iter().copied() {
                    let options = LossOptions { loss, isa: Some(isa), ..Default::default() };
                    let result = loss_and_grad_sparse(p.weights.view(), &rows, &p.labels, &options);
                    let place = format!("sample {sample}, feature {feature}");
                    assert!(
                        matches!(&result, Err(Error::NonFinite { what: "inputs", location, .. })
                            if *location == place),
                        "{isa} {loss} {bad} at {place}: {result:?}"
                    );
                }
            }
        }
    }
}

/// CSR keeps exactly the nonzeros (NaN included, −0.0 not), in any memory layout, and gives
/// the dense matrix back.
#[test]
fn csr_round_trips() {
    let dense = array![
        [0.0, 1.5, 0.0, -2.0],
        [0.0, 0.0, 0.0, 0.0],
        [3.0, 0.0, f64::INFINITY, 0.0],
        [-0.0, 0.0, 1e-300, 4.0],
    ];
    let rows = SparseRows::from_dense(dense.view()).unwrap();
    assert_eq!((rows.nrows(), rows.ncols(), rows.nnz()), (4, 4, 6));
    assert_eq!(rows.density(), 6.0 / 16.0);
    assert_eq!(rows.to_dense(), dense);

    let transposed = SparseRows::from_dense(dense.t()).unwrap();
    assert_eq!(transposed.to_dense(), dense.t());

    let with_nan = array![[0.0f32, f32::NAN]];
    let rows = SparseRows::from_dense(with_nan.view()).unwrap();
    assert_eq!(rows.nnz(), 1);
    assert!(rows.to_dense()[[0, 1]].is_nan());

    for &shape in &SHAPES {
        let p = problem::<f32>(shape, 4);
        let rows = SparseRows::from_dense(p.inputs.view()).unwrap();
        let nonzeros = p.inputs.iter().filter(|&&v| v != 0.0).count();
        assert_eq!(rows.nnz(), nonzeros);
        assert_eq!(rows.density(), nonzeros as f64 / p.inputs.len() as f64);
        assert_eq!(rows.to_dense(), p.inputs);
    }

    let empty = SparseRows::from_dense(Array2::<f64>::zeros((0, 3)).view()).unwrap();
    assert_eq!((empty.nrows(), empty.ncols(), empty.nnz(), empty.density()), (0, 3, 0, 0.0));
}

/// Column indices are `u32`: more than 2³² columns are refused, not truncated.
#[test]
fn too_many_columns_are_refused() {
    let zero = ndarray::arr1(&[0.0f32]); // broadcast: no memory behind the 2³² + 1 columns
    let wide: ArrayView2<f32> = zero.broadcast((1, u32::MAX as usize + 2)).unwrap();
    let err = SparseRows::from_dense(wide).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooManyFeatures {
                kernel: "sparse",
                n_features: 4_294_967_297,
                max: 4_294_967_296
            }
        ),
        "{err}"
    );
}

/// CSR arrays as SciPy holds them (offsets, increasing columns, values) give the matrix
/// `from_dense` gives; rows picked from it are the dense rows; the trainer's scaled rows with the
/// bias column are the dense computation's; malformed arrays are refused with their fault.
#[test]
fn csr_arrays_selected_rows_and_scaled_rows_match_the_dense_matrix() {
    let dense = array![[0.0, 2.0, 0.0, -1.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.5, 0.0]];
    let from_arrays =
        SparseRows::from_csr(4, vec![0, 2, 2, 4], vec![1, 3, 0, 2], vec![2.0, -1.0, 3.0, 0.5])
            .unwrap();
    assert_eq!(from_arrays, SparseRows::from_dense(dense.view()).unwrap());
    let picked = from_arrays.select_rows(&[2, 0, 2]);
    assert_eq!(
        picked.to_dense(),
        array![[3.0, 0.0, 0.5, 0.0], [0.0, 2.0, 0.0, -1.0], [3.0, 0.0, 0.5, 0.0]]
    );
    let scaled: SparseRows<f32> = from_arrays.scaled_with_bias(&[2.0, 4.0, 0.5, 1.0]).unwrap();
    let expected =
        array![[0.0f32, 0.5, 0.0, -1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 1.0], [1.5, 0.0, 1.0, 0.0, 1.0]];
    assert_eq!(scaled.to_dense(), expected);

    let refused =
        |starts: Vec<usize>, columns: Vec<u32>, values: Vec<f64>| match SparseRows::from_csr(
            4, starts, columns, values,
        ) {
            Err(Error::InconsistentData(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        };
    let message = refused(vec![0, 2], vec![1], vec![1.0, 2.0]);
    assert!(message.contains("1 column indices for 2 values"), "{message}");
    let message = refused(vec![1, 2], vec![1, 2], vec![1.0, 2.0]);
    assert!(
        message.contains("must run from 0 to the number of values (2), got 1 to 2"),
        "{message}"
    );
    let message = refused(vec![], vec![1, 2], vec![1.0, 2.0]);
    assert!(message.contains("no row offsets"), "{message}");
    let message = refused(vec![0, 2, 1, 2], vec![1, 2], vec![1.0, 2.0]);
    assert!(message.contains("row offsets decrease at row 1"), "{message}");
    let message = refused(vec![0, 2], vec![1, 4], vec![1.0, 2.0]);
    assert!(message.contains("row 0 has column 4, out of range for 4"), "{message}");
    let message = refused(vec![0, 2], vec![2, 2], vec![1.0, 2.0]);
    assert!(message.contains("not increasing"), "{message}");
}
