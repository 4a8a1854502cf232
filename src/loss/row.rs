//! The math of one sample: from its scores f = W x_i to its loss L_i and g = ∂L_i/∂f, which every
//! fast kernel applies to each row (the naive and vectorized kernels spell it out themselves).

use super::types::{Loss, NonFiniteScores};
use crate::Float;

/// `Err(NonFiniteScores)` unless every score of `sample` is finite. Weights are checked up
/// front, so a non-finite score means a NaN or infinity in the input row (it makes every score
/// of its row non-finite) or an overflow; testing C scores is cheaper than scanning D inputs.
#[inline]
pub(crate) fn check_scores<'a, F: Float>(
    scores: impl IntoIterator<Item = &'a F>,
    sample: usize,
) -> std::result::Result<(), NonFiniteScores> {
    match scores.into_iter().all(|s| s.is_finite()) {
        true => Ok(()),
        false => Err(NonFiniteScores { sample }),
    }
}

/// Sample `sample`'s step of a kernel's row loop: checks its `scores` f, then returns L_i and
/// overwrites f with g = ∂L_i/∂f ([`row_loss_and_dscores`]).
#[inline(always)]
pub(crate) fn checked_row_step<F: Float>(
    loss: Loss,
    scores: &mut [F],
    label: usize,
    sample: usize,
) -> std::result::Result<F, NonFiniteScores> {
    check_scores(&*scores, sample)?;
    Ok(row_loss_and_dscores(loss, scores, label))
}

/// [`checked_row_step`] of the softmax loss with smoothed targets q = (1 − ε)·onehot(y) + ε/C
/// (label smoothing, 0 < ε < 1) instead of onehot(y): since Σ_j q_j = 1 and
/// log p_j = f_j − log Σ_k e^{f_k},
///
/// L_i = −Σ_j q_j log p_j = L⁰_i + ε·(f_y − f̄)   (f̄ = Σ_j f_j / C),
/// g = p − q = g⁰ + ε·onehot(y) − ε/C,
///
/// where L⁰_i and g⁰ are the one-hot loss and gradient of [`row_loss_and_dscores`]. f_y − f̄ is
/// taken from the scores before they are overwritten; a shift of all the scores cancels in it.
#[inline(always)]
pub(crate) fn checked_smoothed_softmax_step<F: Float>(
    scores: &mut [F],
    label: usize,
    sample: usize,
    epsilon: F,
) -> std::result::Result<F, NonFiniteScores> {
    let n_classes = F::of(scores.len() as f64);
    let margin = scores[label] - lane_fold(scores, F::zero(), |total, s| total + s) / n_classes;
    let one_hot_loss = checked_row_step(Loss::Softmax, scores, label, sample)?;
    let spread = epsilon / n_classes;
    for g in scores.iter_mut() {
        *g -= spread;
    }
    scores[label] += epsilon;
    Ok(one_hot_loss + epsilon * margin)
}

/// For one sample: returns L_i and overwrites its scores f with g = ∂L_i/∂f. `label` is in
/// `0..C` (C = `scores.len()`; the caller checks).
///
/// softmax: L_i = log Σ_j e^{f_j − m} − (f_{y_i} − m) with m = max_j f_j, g_j = p_j − 1{j = y_i}.
/// svm: L_i = Σ_{j≠y_i} max(0, f_j − f_{y_i} + 1), g_j = 1{margin_j > 0}, g_{y_i} = −Σ_j g_j.
///
/// Always inlined, so that a kernel's loop under [`super::isa::dispatch`] compiles it with that
/// instruction set.
#[inline(always)]
pub(crate) fn row_loss_and_dscores<F: Float>(loss: Loss, scores: &mut [F], label: usize) -> F {
    match loss {
        Loss::Softmax => {
            // In loops that vectorize: lane-wise max and sum, `exp_fast` instead of a libm call
            // per class, and one division.
            let max = lane_fold(scores, F::neg_infinity(), |m, s| if s > m { s } else { m });
            let correct_shifted = scores[label] - max;
            for s in scores.iter_mut() {
                *s = (*s - max).exp_fast();
            }
            let sum = lane_fold(scores, F::zero(), |total, s| total + s);
            let inverse = sum.recip();
            for s in scores.iter_mut() {
                *s *= inverse;
            }
            scores[label] -= F::one();
            sum.ln() - correct_shifted
        }
        Loss::Svm => {
            let correct = scores[label];
            let mut row_loss = F::zero();
            let mut positive = F::zero();
            for (j, s) in scores.iter_mut().enumerate() {
                let margin = *s - correct + F::one();
                *s = if j != label && margin > F::zero() {
                    row_loss += margin;
                    positive += F::one();
                    F::one()
                } else {
                    F::zero()
                };
            }
            scores[label] = -positive;
            row_loss
        }
    }
}

/// Folds `values` with `combine` (associative and commutative: max or +) in 8 independent
/// lanes, so that the loop vectorizes, then folds the lanes pairwise and the remainder in order.
#[inline(always)]
fn lane_fold<F: Float>(values: &[F], identity: F, combine: impl Fn(F, F) -> F) -> F {
    let (chunks, rest) = values.as_chunks::<8>();
    let mut lanes = [identity; 8];
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane = combine(*lane, value);
        }
    }
    let [a, b, c, d, e, f, g, h] = lanes;
    let folded =
        combine(combine(combine(a, b), combine(c, d)), combine(combine(e, f), combine(g, h)));
    rest.iter().fold(folded, |acc, &value| combine(acc, value))
}
