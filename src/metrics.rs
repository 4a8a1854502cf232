//! Evaluating a classifier: accuracy, mean loss, per-class precision and recall, and the
//! confusion matrix.
//!
//! For N samples with labels y_i and predictions ŷ_i over C classes:
//!
//! - confusion matrix M (C×C): M_{t,p} = #{i : y_i = t, ŷ_i = p} (rows: true class, columns:
//!   predicted class, both in class order);
//! - accuracy = Σ_c M_{c,c} / N;
//! - top-k accuracy = #{i : r_i < k} / N, where r_i = #{j ≠ y_i : f_j ≥ f_{y_i}} is the number of
//!   classes that score at least as high as the true class. Ties count against the sample (a
//!   class tied with the true one is ranked above it), so top-1 accuracy can be below the
//!   accuracy, whose argmax breaks ties by the lowest index; a NaN score counts against too.
//!   k ≥ C gives 1;
//! - precision of class c = M_{c,c} / Σ_t M_{t,c} (of the samples predicted c, the fraction that
//!   are c), recall = M_{c,c} / Σ_p M_{c,p} (of the samples of class c, the fraction predicted c),
//!   support = Σ_p M_{c,p}. A class never predicted has precision 0 and a class without samples
//!   recall 0 (scikit-learn's `zero_division=0`);
//! - mean loss = (1/N) Σ_i L_i, the model's data loss without regularization: softmax
//!   cross-entropy L_i = log Σ_j e^{f_j} − f_{y_i} or multiclass hinge
//!   L_i = Σ_{j≠y_i} max(0, f_j − f_{y_i} + 1), on the scores f of sample i. Against the one-hot
//!   labels, also for a model trained with label smoothing (its training objective is not a
//!   measure of the model: it depends on ε).

use crate::data::{Dataset, MappedDataset};
use crate::loss::row::row_loss_and_dscores;
use crate::model::{Model, argmax_rows};
use crate::{Error, Float, Result};
use ndarray::{ArrayView1, ArrayView2, CowArray, Ix2};

/// Precision, recall and support of one class.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClassMetrics {
    pub class: String,
    /// Of the samples predicted as this class, the fraction that are (0 if none is).
    pub precision: f64,
    /// Of the samples of this class, the fraction predicted as it (0 if it has no samples).
    pub recall: f64,
    /// The number of samples of this class.
    pub support: usize,
}

/// How a model does on a data set.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Evaluation {
    pub n_samples: usize,
    /// The fraction of samples classified right.
    pub accuracy: f64,
    /// The mean data loss (the model's loss, no regularization).
    pub mean_loss: f64,
    /// One entry per class, in class order.
    pub per_class: Vec<ClassMetrics>,
    /// Rows = true class, columns = predicted class, in class order.
    pub confusion_matrix: Vec<Vec<usize>>,
}

/// The fraction of `predicted` equal to `labels`: #{i : ŷ_i = y_i} / N (NaN when N = 0).
///
/// ```
/// assert_eq!(softmax::metrics::accuracy(&[0, 1, 1, 1, 0], &[0, 0, 1, 1, 2]), 0.6);
/// ```
///
/// # Panics
/// If the slices have different lengths.
pub fn accuracy(predicted: &[usize], labels: &[usize]) -> f64 {
    assert_eq!(predicted.len(), labels.len(), "one prediction per label");
    let right = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    right as f64 / labels.len() as f64
}

/// The fraction of samples whose true class is among the `k` highest of its scores (N×C): see
/// the module doc for ties. NaN when N = 0.
///
/// ```
/// use ndarray::array;
/// let scores = array![[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.9, 0.0, 0.1]];
/// // Sample 0 (label 2) is second; sample 1 (label 0) ties for second: third, conservatively;
/// // sample 2 is last.
/// assert_eq!(softmax::metrics::top_k_accuracy(scores.view(), &[2, 0, 1], 2), 1.0 / 3.0);
/// ```
///
/// # Panics
/// If `labels` has another length than the rows of `scores`, a label is not a column of
/// `scores`, or `k` is 0.
pub fn top_k_accuracy<F: Float>(scores: ArrayView2<F>, labels: &[usize], k: usize) -> f64 {
    top_k_hits(scores, labels, k) as f64 / labels.len() as f64
}

/// The number of samples whose true class is among the `k` highest of its scores (N×C), as
/// [`top_k_accuracy`] counts them.
///
/// # Panics
/// As [`top_k_accuracy`].
pub fn top_k_hits<F: Float>(scores: ArrayView2<F>, labels: &[usize], k: usize) -> usize {
    assert_eq!(scores.nrows(), labels.len(), "one row of scores per label");
    assert!(k >= 1, "top-k needs k >= 1");
    scores.rows().into_iter().zip(labels).filter(|(row, label)| rank(*row, **label) < k).count()
}

/// r = #{j ≠ y : not f_j < f_y}: the classes ranked above the true class y, ties and NaN
/// included.
fn rank<F: Float>(scores: ArrayView1<F>, label: usize) -> usize {
    let correct = scores[label];
    let not_below = |(j, score): &(usize, &F)| {
        *j != label && score.partial_cmp(&&correct) != Some(std::cmp::Ordering::Less)
    };
    scores.iter().enumerate().filter(not_below).count()
}

/// Evaluates a model on a data set whose labels index the model's classes (call
/// `Dataset::align_classes` with the model's class names first). The scores are computed a
/// chunk of rows at a time ([`score`]), never N×C at once.
///
/// # Errors
/// An empty data set, a label count other than N, labels out of `0..C`, a data set whose class
/// names are not the model's, and the errors of [`Model::scores`] (another number of features,
/// non-finite inputs).
pub fn evaluate(model: &Model, data: &Dataset) -> Result<Evaluation> {
    evaluate_with_top_k(model, data, None).map(|(evaluation, _)| evaluation)
}

/// The model's top-k accuracy ([`top_k_accuracy`]) on a data set aligned as for [`evaluate`].
///
/// # Errors
/// Those of [`evaluate`], and [`Error::InvalidOption`] for k = 0.
pub fn evaluate_top_k(model: &Model, data: &Dataset, k: usize) -> Result<f64> {
    let (_, top_k_accuracy) = evaluate_with_top_k(model, data, Some(k))?;
    Ok(top_k_accuracy.expect("a k was given"))
}

/// [`evaluate`] and, for a `top_k`, [`evaluate_top_k`], from one pass over the scores.
///
/// # Errors
/// Those of [`evaluate_top_k`].
pub fn evaluate_with_top_k(
    model: &Model,
    data: &Dataset,
    top_k: Option<usize>,
) -> Result<(Evaluation, Option<f64>)> {
    let (evaluation, scored) = evaluate_scored(model, data, top_k)?;
    Ok((evaluation, scored.top_k_accuracy()))
}

/// [`evaluate_with_top_k`], with the pass it came from: each sample's prediction and its
/// probability (what a report shows of the samples, without scoring them again).
///
/// # Errors
/// Those of [`evaluate_top_k`].
pub fn evaluate_scored(
    model: &Model,
    data: &Dataset,
    top_k: Option<usize>,
) -> Result<(Evaluation, Scored)> {
    check_dataset(model, data.inputs.nrows(), &data.class_names)?;
    let scored = score(model, data.inputs.view(), &data.labels, top_k)?;
    Ok((evaluation(model, &scored, &data.labels), scored))
}

/// [`evaluate_with_top_k`] on a split of a memory-mapped matrix, read a chunk of rows at a time
/// (converted to float32): X is never copied whole. Its classes are aligned as for
/// [`evaluate`] ([`MappedDataset::align_classes`]).
///
/// # Errors
/// Those of [`evaluate_with_top_k`], and a file cut short since it was mapped.
pub fn evaluate_mapped_with_top_k(
    model: &Model,
    data: &MappedDataset,
    top_k: Option<usize>,
) -> Result<(Evaluation, Option<f64>)> {
    let (evaluation, scored) = evaluate_mapped_scored(model, data, top_k)?;
    Ok((evaluation, scored.top_k_accuracy()))
}

/// [`evaluate_mapped_with_top_k`], with the pass it came from, as [`evaluate_scored`].
///
/// # Errors
/// Those of [`evaluate_mapped_with_top_k`].
pub fn evaluate_mapped_scored(
    model: &Model,
    data: &MappedDataset,
    top_k: Option<usize>,
) -> Result<(Evaluation, Scored)> {
    check_dataset(model, data.n_samples(), &data.class_names)?;
    let read = |rows| Ok(CowArray::from(data.read_rows(rows)?));
    let dim = (data.n_samples(), data.inputs.dim().1);
    let scored = score_read(model, dim, read, &data.labels, top_k)?;
    Ok((evaluation(model, &scored, &data.labels), scored))
}

/// The evaluation of what [`score`] gave on samples labelled `labels`.
fn evaluation(model: &Model, scored: &Scored, labels: &[usize]) -> Evaluation {
    let confusion_matrix = confusion_matrix(&scored.predicted, labels, model.n_classes());
    Evaluation {
        n_samples: labels.len(),
        accuracy: accuracy(&scored.predicted, labels),
        mean_loss: scored.loss_sum / labels.len() as f64,
        per_class: class_metrics(&confusion_matrix, model.class_names()),
        confusion_matrix,
    }
}

/// What one pass over a model's scores of some samples gives ([`score`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// Each sample's predicted class: argmax_j f_j, the lowest index on ties.
    pub predicted: Vec<usize>,
    /// Each sample's softmax probability of its predicted class ŷ: p_ŷ = 1 / Σ_j e^{f_j − f_ŷ}
    /// (whatever loss the model was trained with).
    pub confidence: Vec<f64>,
    /// Σ_i L_i, the model's data loss summed over the samples, against their labels.
    pub loss_sum: f64,
    /// For a k: #{i : r_i < k}, the samples whose label is among their k highest scores (as
    /// [`top_k_hits`] counts them).
    pub top_k_hits: Option<usize>,
}

impl Scored {
    /// The top-k accuracy, #{i : r_i < k} / N, for the k the samples were scored with.
    pub fn top_k_accuracy(&self) -> Option<f64> {
        self.top_k_hits.map(|hits| hits as f64 / self.predicted.len() as f64)
    }
}

/// The predictions, their probabilities, summed loss and top-k hits of `model` on `inputs`
/// (N×D, raw) with `labels` (N, in `0..C`), from the scores of [`Model::map_score_chunks`]: a
/// chunk of rows at a time, so memory beyond X is the chunks' scores, not N×C. The loss is
/// summed chunk by chunk, then over the chunks in order: the same for any number of threads.
///
/// # Errors
/// A label count other than N, a label out of `0..C`, k = 0 ([`Error::InvalidOption`]), and the
/// errors of [`Model::map_score_chunks`].
pub fn score(
    model: &Model,
    inputs: ArrayView2<f32>,
    labels: &[usize],
    top_k: Option<usize>,
) -> Result<Scored> {
    let read = |rows| Ok(CowArray::from(inputs.slice(ndarray::s![rows, ..])));
    score_read(model, inputs.dim(), read, labels, top_k)
}

/// [`score`] on inputs that `read` gives a chunk of rows at a time
/// ([`Model::map_score_chunks_read`]).
fn score_read<'a>(
    model: &Model,
    dim: (usize, usize),
    read: impl Fn(std::ops::Range<usize>) -> Result<CowArray<'a, f32, Ix2>> + Sync,
    labels: &[usize],
    top_k: Option<usize>,
) -> Result<Scored> {
    if top_k == Some(0) {
        return Err(Error::InvalidOption("top-k accuracy needs k >= 1, got 0".into()));
    }
    if labels.len() != dim.0 {
        return Err(Error::LabelCount { labels: labels.len(), samples: dim.0 });
    }
    let n_classes = model.n_classes();
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, label)| **label >= n_classes)
    {
        return Err(Error::LabelOutOfRange { index, label: label as i128, n_classes });
    }
    let chunks = model.map_score_chunks_read(dim, read, |rows, scores| {
        let labels = &labels[rows];
        let mut row_scores = vec![0.0; n_classes];
        let loss_of = |(row, &label): (ArrayView1<f64>, &usize)| {
            row_scores.iter_mut().zip(row).for_each(|(to, &from)| *to = from);
            row_loss_and_dscores(model.loss(), &mut row_scores, label)
        };
        Scored {
            predicted: argmax_rows(scores),
            confidence: scores.rows().into_iter().map(top_probability).collect(),
            loss_sum: scores.rows().into_iter().zip(labels).map(loss_of).sum(),
            top_k_hits: top_k.map(|k| top_k_hits(scores, labels, k)),
        }
    })?;
    let mut scored = Scored {
        predicted: Vec::with_capacity(labels.len()),
        confidence: Vec::with_capacity(labels.len()),
        loss_sum: 0.0,
        top_k_hits: top_k.map(|_| 0),
    };
    for chunk in chunks {
        scored.predicted.extend(chunk.predicted);
        scored.confidence.extend(chunk.confidence);
        scored.loss_sum += chunk.loss_sum;
        if let (Some(hits), Some(chunk_hits)) = (scored.top_k_hits.as_mut(), chunk.top_k_hits) {
            *hits += chunk_hits;
        }
    }
    Ok(scored)
}

/// The softmax probability of a row's highest score: e^0 / Σ_j e^{f_j − max_k f_k}.
fn top_probability(scores: ArrayView1<f64>) -> f64 {
    let max = scores.fold(f64::NEG_INFINITY, |m, &f| m.max(f));
    1.0 / scores.fold(0.0, |sum, &f| sum + (f - max).exp())
}

/// Refuses a data set that the model cannot be evaluated on: empty (`n_samples` = 0), or with
/// other classes ([`score`] checks the labels).
fn check_dataset(model: &Model, n_samples: usize, class_names: &[String]) -> Result<()> {
    if n_samples == 0 {
        return Err(Error::Empty("the data set has no samples to evaluate on".to_string()));
    }
    if class_names != model.class_names() {
        return Err(Error::ClassMismatch(format!(
            "the data's classes {class_names:?} are not the model's {:?}: align them first \
             (Dataset::align_classes)",
            model.class_names()
        )));
    }
    Ok(())
}

/// M_{t,p} = the number of samples of true class t predicted as p (C×C).
fn confusion_matrix(predicted: &[usize], labels: &[usize], n_classes: usize) -> Vec<Vec<usize>> {
    let mut matrix = vec![vec![0; n_classes]; n_classes];
    for (&p, &t) in predicted.iter().zip(labels) {
        matrix[t][p] += 1;
    }
    matrix
}

/// Precision, recall and support of each class from the confusion matrix; 0 where the
/// denominator is 0.
fn class_metrics(confusion: &[Vec<usize>], class_names: &[String]) -> Vec<ClassMetrics> {
    let ratio =
        |part: usize, whole: usize| if whole == 0 { 0.0 } else { part as f64 / whole as f64 };
    class_names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let right = confusion[c][c];
            let predicted_as_c: usize = confusion.iter().map(|row| row[c]).sum();
            let support: usize = confusion[c].iter().sum();
            ClassMetrics {
                class: name.clone(),
                precision: ratio(right, predicted_as_c),
                recall: ratio(right, support),
                support,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Loss;
    use ndarray::array;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|c| format!("class{c}")).collect()
    }

    #[test]
    fn confusion_and_class_metrics_by_hand() {
        // labels [0,0,1,1,2], predictions [0,1,1,1,0]
        let confusion = confusion_matrix(&[0, 1, 1, 1, 0], &[0, 0, 1, 1, 2], 3);
        assert_eq!(confusion, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]);
        let metrics = class_metrics(&confusion, &names(3));
        // class 0: predicted twice (samples 0, 4), right once; 2 samples, 1 found.
        assert_eq!((metrics[0].precision, metrics[0].recall, metrics[0].support), (0.5, 0.5, 2));
        // class 1: predicted 3 times, right twice; 2 samples, both found.
        assert_eq!(
            (metrics[1].precision, metrics[1].recall, metrics[1].support),
            (2.0 / 3.0, 1.0, 2)
        );
        // class 2: never predicted (precision 0 by convention); 1 sample, missed.
        assert_eq!((metrics[2].precision, metrics[2].recall, metrics[2].support), (0.0, 0.0, 1));
    }

    #[test]
    fn a_class_without_samples_has_recall_zero() {
        let confusion = confusion_matrix(&[0, 1], &[0, 0], 2);
        let metrics = class_metrics(&confusion, &names(2));
        assert_eq!((metrics[1].precision, metrics[1].recall, metrics[1].support), (0.0, 0.0, 0));
    }

    /// What [`score`] gives for these scores, from a model whose scores are its inputs (W = I,
    /// b = 0, no preprocessing).
    fn scored(loss: Loss, scores: ndarray::Array2<f32>, labels: &[usize]) -> Scored {
        let n_classes = scores.ncols();
        let parts = crate::model::ModelParts {
            weight: ndarray::Array2::eye(n_classes),
            bias: ndarray::Array1::zeros(n_classes),
            preprocessor: crate::preprocess::Preprocessor::fit(
                crate::preprocess::Preprocess::None,
                scores.view(),
            ),
            class_names: names(n_classes),
            feature_names: None,
            image_shape: None,
            loss,
            reg: 0.0,
            reg_convention: crate::RegConvention::Half,
            bias_mode: crate::preprocess::Bias::Intercept,
            precision: crate::model::Precision::F64,
            training: serde_json::json!({}),
        };
        let model = Model::new(parts).unwrap();
        score(&model, scores.view(), labels, None).unwrap()
    }

    fn loss_sum(loss: Loss, scores: ndarray::Array2<f32>, labels: &[usize]) -> f64 {
        scored(loss, scores, labels).loss_sum
    }

    #[test]
    fn confidence_is_the_softmax_probability_of_the_prediction_by_hand() {
        let scores = array![[0.0, 2.0, 1.0], [1000.0, 0.0, 0.0], [3.0, 3.0, -1.0]];
        let (e, e2) = (1f64.exp(), 2f64.exp());
        for loss in [Loss::Softmax, Loss::Svm] {
            let scored = scored(loss, scores.clone(), &[0, 0, 1]);
            assert_eq!(scored.predicted, [1, 0, 0]);
            // e²/(1 + e² + e); 1/(1 + 2e^{−1000}) = 1; a tie: e³/(2e³ + e^{−1}).
            let expected = [e2 / (1.0 + e2 + e), 1.0, 1.0 / (2.0 + (-4f64).exp())];
            for (got, want) in scored.confidence.iter().zip(expected) {
                assert!((got - want).abs() < 1e-15, "{got} against {want}");
            }
        }
    }

    #[test]
    fn mean_loss_by_hand() {
        let scores = array![[1.0, 2.0, 0.0], [3.0, -1.0, 0.5]];
        let labels = [2, 0];
        let lse = |row: [f64; 3]| row.iter().map(|f| f.exp()).sum::<f64>().ln();
        let softmax = (lse([1.0, 2.0, 0.0]) - 0.0) + (lse([3.0, -1.0, 0.5]) - 3.0);
        assert!((loss_sum(Loss::Softmax, scores.clone(), &labels) - softmax).abs() < 1e-15);
        // hinge: sample 0: max(0, 1−0+1) + max(0, 2−0+1) = 5; sample 1: max(0, −1−3+1) +
        // max(0, 0.5−3+1) = 0.
        assert_eq!(loss_sum(Loss::Svm, scores, &labels), 5.0);
    }

    #[test]
    fn mean_loss_is_stable_for_scores_in_the_thousands() {
        let scores = array![[1000.0, 0.0], [0.0, 1000.0]];
        // Sample 0 is right with p ≈ 1 (loss ≈ e^{−1000} ≈ 0), sample 1 wrong by 1000.
        let loss = loss_sum(Loss::Softmax, scores, &[0, 0]);
        assert!((loss - 1000.0).abs() < 1e-12, "{loss}");
    }

    #[test]
    fn accuracy_counts_matches() {
        assert_eq!(accuracy(&[0, 1, 1, 1, 0], &[0, 0, 1, 1, 2]), 0.6);
        assert_eq!(accuracy(&[2, 2], &[2, 2]), 1.0);
    }
}
