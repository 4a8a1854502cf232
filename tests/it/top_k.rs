//! Top-k accuracy: `metrics::top_k_accuracy` on hand-made scores (ties count against the
//! sample) and against a sort-based reference on random scores; `train --top-k` and
//! `eval --top-k` report it, and agree.

use ndarray::{Array2, array};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use softmax::metrics::{accuracy, top_k_accuracy};
use softmax::model::argmax_rows;

use crate::common::{failure, json};

/// Four samples, four classes. Sample 0 (label 0) is first; sample 1 (label 0) is last; sample 2
/// (label 1) ties with two classes for first, both counted above it: third; sample 3 (label 2)
/// ties with one class for second: third.
#[test]
fn hand_made_scores_with_ties() {
    let scores = array![
        [4.0, 1.0, 2.0, 3.0],
        [0.5, 3.0, 2.0, 1.0],
        [7.0, 7.0, 7.0, 0.0],
        [9.0, -1.0, 5.0, 5.0],
    ];
    let labels = [0, 0, 1, 2];
    for (k, expected) in [(1, 0.25), (2, 0.25), (3, 0.75), (4, 1.0), (5, 1.0), (100, 1.0)] {
        assert_eq!(top_k_accuracy(scores.view(), &labels, k), expected, "k = {k}");
    }
    // The argmax breaks sample 2's tie by the lowest index (class 0, wrong) and would count a
    // tie won by the lowest index as right; top-1 never does.
    assert_eq!(accuracy(&argmax_rows(scores.view()), &labels), 0.25);
    let tied_first = array![[2.0, 2.0, 1.0]];
    assert_eq!(accuracy(&argmax_rows(tied_first.view()), &[0]), 1.0);
    assert_eq!(top_k_accuracy(tied_first.view(), &[0], 1), 0.0);
    assert_eq!(top_k_accuracy(tied_first.view(), &[0], 2), 1.0);
    // A NaN score counts against the sample: in another class, or its own.
    let nan = array![[1.0, f64::NAN, 0.0], [f64::NAN, 1.0, 0.0]];
    assert_eq!(top_k_accuracy(nan.view(), &[0, 0], 1), 0.0);
    assert_eq!(top_k_accuracy(nan.view(), &[0, 0], 2), 0.5);
    assert_eq!(top_k_accuracy(nan.view(), &[0, 0], 3), 1.0);
    // float32 scores too.
    let scores32 = scores.mapv(|s| s as f32);
    assert_eq!(top_k_accuracy(scores32.view(), &labels, 3), 0.75);
}

/// On random scores (no ties) top-k equals NumPy's formulation: the label is among the first k
/// of the classes sorted by descending score (`np.argsort(-scores)[:, :k]`).
#[test]
fn random_scores_match_a_sorting_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let (n, c) = (500, 37);
    let scores = Array2::from_shape_simple_fn((n, c), || rng.random::<f64>());
    let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..c)).collect();
    for k in [1, 2, 5, 10, 36, 37] {
        let hits = scores
            .rows()
            .into_iter()
            .zip(&labels)
            .filter(|(row, label)| {
                let mut order: Vec<usize> = (0..c).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
                order[..k].contains(label)
            })
            .count();
        assert_eq!(top_k_accuracy(scores.view(), &labels, k), hits as f64 / n as f64, "k = {k}");
    }
    assert_eq!(
        top_k_accuracy(scores.view(), &labels, 1),
        accuracy(&argmax_rows(scores.view()), &labels)
    );
}

/// `train --top-k 3` reports top-3 on every split, at least the accuracy; `--top-k 10` on ten
/// classes is 1; the model saved evaluates to the same test top-3 with `eval --top-k 3`; K = 0
/// is refused. Without --top-k there are no top-k keys.
#[test]
fn train_and_eval_report_top_k() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let model = model.to_str().unwrap();
    let base = ["train", "--iters", "3", "--json", "--quiet"];
    let plain = json(&base);
    assert!(plain.get("top_k").is_none() && plain.get("train_top_k_accuracy").is_none());
    let top3 = json(&[&base[..], &["--top-k", "3", "--model", model]].concat());
    assert_eq!(top3["top_k"], 3);
    for split in ["train", "val", "test"] {
        let (plain_accuracy, top_k) = (
            top3[format!("{split}_accuracy")].as_f64().unwrap(),
            top3[format!("{split}_top_k_accuracy")].as_f64().unwrap(),
        );
        assert!(top_k >= plain_accuracy && top_k <= 1.0, "{split}: {top_k} < {plain_accuracy}");
        assert!(top_k < 1.0, "{split}: top-3 of a model after 3 iterations is not perfect");
    }
    assert_eq!(top3["train_accuracy"], plain["train_accuracy"]);
    let top10 = json(&[&base[..], &["--top-k", "10"]].concat());
    for split in ["train", "val", "test"] {
        assert_eq!(top10[format!("{split}_top_k_accuracy")], 1.0);
    }
    let evaluated = json(&["eval", "--model", model, "--top-k", "3"]);
    assert_eq!(evaluated["split"], "test");
    assert_eq!(evaluated["top_k"], 3);
    assert_eq!(evaluated["top_k_accuracy"], top3["test_top_k_accuracy"]);
    assert!(json(&["eval", "--model", model]).get("top_k_accuracy").is_none());
    let err = failure(&[&base[..], &["--top-k", "0"]].concat());
    assert!(err.contains("k >= 1"), "{err}");
    let err = failure(&["eval", "--model", model, "--top-k", "0"]);
    assert!(err.contains("k >= 1"), "{err}");
}
