//! Full-batch L-BFGS from `argmin` (More–Thuente line search, up to 200 correction pairs),
//! stopping when the gradient's 2-norm falls below the tolerance, or when an iteration lowers the
//! objective by less than `ftol` relative (as scipy's L-BFGS-B; on MNIST with 10 pairs it stops
//! after 360 iterations instead of 511, 2e-7 from the optimum instead of 5e-10).
//!
//! A line search that finds no lower objective in [`LINE_SEARCH_PASSES`] passes ends the run at
//! the last iteration's point, as scipy's does; one whose first [`FLAT_SEARCH_PASSES`] passes
//! all land within the passes' rounding of the start, none lower by `ftol`, ends it sooner.
//!
//! argmin asks for the cost and the gradient separately, often at the same point; one
//! loss+gradient pass serves both through a one-entry cache.
//!
//! With a [`Preconditioner`] L-BFGS runs on variables V with W = V L⁻¹ (see
//! [`super::precondition`]); the gradient tolerance still applies to the gradient in W.

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{
    CostFunction, Executor, Gradient, IterState, KV, Problem as ArgminProblem, Solver, State,
    TerminationReason, TerminationStatus,
};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::{Array2, ArrayView2};

use super::precondition::Preconditioner;
use super::{
    Checkpoint, Duration, History, Labeled, Objective, Progress, Step, TrainOptions, Trained,
    accuracy,
};
use crate::loss::sparse::SparseRows;
use crate::{Error, Float, Result};

/// Iterations when no duration is given.
const DEFAULT_MAX_ITERATIONS: usize = 1000;
/// Bytes the correction pairs (s, y: 2 × C·(D+1) float64 each) may take.
const MEMORY_BUDGET: usize = 256 << 20;
/// The fewest and the most correction pairs L-BFGS keeps.
const MEMORY_PAIRS: std::ops::RangeInclusive<usize> = 10..=200;
/// Passes one iteration's line search may take (scipy's L-BFGS-B: `maxls` = 20). Near the
/// optimum of a float32 problem the objective along the search direction is flat to its last
/// bits, and More–Thuente, which argmin runs without a limit, narrows its interval down to
/// 1e-10 relative: on a float16 probe (20,000 × 768 × 300) its last two iterations took 52
/// passes, half of the run, for no decrease.
const LINE_SEARCH_PASSES: usize = 20;
/// Passes after which a line search that has only found the objective flat ends the run: every
/// trial within [`FLAT_BAND`] units of the pass type's rounding (relative) of the objective at
/// the start of the search, and none lower than the start by `ftol` relative, the least decrease
/// that lets the run go on (a step found now would most likely stop it by that rule). In
/// float32 the last line search of a converged run looks like this: on the digits its 20 trials
/// scattered within 1.1e-7 of the start, and on MNIST the best of them was 1.8e-9 lower (`ftol`
/// is 2.2e-9); the 20-pass cap spent 15 passes more on each (13% of MNIST's run, 40% of the
/// ImageNet-sized probe's). A search that is backtracking from a step too long sees objectives
/// far above the start and goes on.
const FLAT_SEARCH_PASSES: usize = 5;
/// The band that counts as flat, in units of the pass type's epsilon: the mean loss is a sum of
/// rounded log-sum-exps (each f_max + ln Σ e^(f − f_max) − f_y, whose terms cancel when the
/// loss is small next to the scores), so it moves by a few units of rounding between nearly
/// equal weights.
const FLAT_BAND: f64 = 16.0;

/// Correction pairs for `n_parameters` weights: as many as [`MEMORY_BUDGET`] holds, within
/// [`MEMORY_PAIRS`]. A long memory pays on ill-conditioned problems: on MNIST (pixels / 255,
/// reg 1e-4) L-BFGS needs 387 iterations with 10 pairs, 232 with 40 and 144 with 160, at a cost
/// per iteration (4 × pairs × parameters flops) far below one pass over the data.
fn memory_pairs(n_parameters: usize) -> usize {
    let pair_bytes = 2 * n_parameters * std::mem::size_of::<f64>();
    (MEMORY_BUDGET / pair_bytes.max(1)).clamp(*MEMORY_PAIRS.start(), *MEMORY_PAIRS.end())
}

type Params = Vec<f64>;
type LbfgsState = IterState<Params, Params, (), (), (), f64>;
/// The progress callback of [`super::train`].
type OnProgress<'p> = &'p mut dyn FnMut(&Progress) -> ControlFlow<()>;

pub(super) fn train<F: Float>(
    objective: &Objective<F>,
    initial: Array2<F>,
    validation: Option<Labeled<F>>,
    options: &TrainOptions,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<Trained<F>> {
    let max_iterations = match options.duration {
        None => DEFAULT_MAX_ITERATIONS,
        Some(Duration::Iterations(n) | Duration::Epochs(n)) => n,
    };
    let shape = initial.dim();
    let initial = initial.mapv(|w| w.as_f64());
    let preconditioned = match options.precondition.by_inputs(shape.1) {
        true => Preconditioner::of_inputs(objective, initial.view(), options.precondition)?,
        false => None,
    };
    let (preconditioner, start) = match preconditioned {
        Some((preconditioner, start)) => (Some(preconditioner), start),
        None => (None, initial),
    };
    let steps = Arc::new(Mutex::new(Vec::<Step>::new()));
    let (passes, failure, cache) = (Cell::new(0), RefCell::new(None), RefCell::new(None));
    let problem = Problem {
        objective,
        sparse_inputs: objective.sparse_inputs()?,
        shape,
        preconditioner: preconditioner.as_ref(),
        cache: &cache,
        search: Cell::new(Search { iteration: 0, passes: 0, flat: true }),
        ftol: options.ftol,
        passes: &passes,
        failure: &failure,
        progress: RefCell::new(progress),
        steps: Arc::clone(&steps),
        max_iterations,
    };
    // argmin compares the gradient in its variables with the tolerance; preconditioned, those
    // are V, and the stop compares the gradient in W instead.
    let (argmin_tolerance, gradient_tolerance) = match preconditioner {
        None => (options.tolerance, None),
        Some(_) => (0.0, Some(options.tolerance)),
    };
    let solver = RelativeDecreaseStop {
        solver: LBFGS::new(line_search()?, memory_pairs(shape.0 * shape.1))
            .with_tolerance_grad(argmin_tolerance)
            .map_err(solver_error)?,
        ftol: options.ftol,
        gradient_tolerance,
        cache: &cache,
    };
    let start: Params = start.iter().copied().collect();
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(start).max_iters(max_iterations as u64))
        .add_observer(StepRecorder(Arc::clone(&steps)), ObserverMode::Always)
        .run();
    // argmin turns an error inside a line search into a stop ("Line search terminated with
    // ...") and drops the problem: an error of ours is returned from where it was recorded.
    if let Some(err) = failure.take() {
        return Err(err);
    }
    let result = result.map_err(solver_error)?;

    let state = result.state();
    let (params, cost) = match state.get_best_param() {
        Some(best) => (best, state.get_best_cost()),
        None => (state.get_param().expect("L-BFGS has parameters"), state.get_cost()),
    };
    let weights = weights_of(params, shape, preconditioner.as_ref());
    let iterations = state.get_iter() as usize;
    let stop_reason = stop_reason(
        state.get_termination_reason(),
        (state.get_prev_cost(), state.get_cost()),
        iterations,
    );
    let passes = passes.get() as f64;
    let mut history =
        History { steps: steps.lock().expect("not poisoned").clone(), checkpoints: Vec::new() };
    let training = Labeled { inputs: objective.inputs, labels: objective.labels };
    history.checkpoints.push(Checkpoint {
        iteration: iterations,
        epoch: iterations as f64,
        train_accuracy: accuracy(weights.view(), training)?,
        val_accuracy: validation.map(|v| accuracy(weights.view(), v)).transpose()?,
    });
    Ok(Trained { weights, iterations, passes, history, stop_reason, objective: Some(cost) })
}

/// Why L-BFGS stopped after `iterations`, in words, from argmin's reason and the objective
/// before and after the last iteration: "converged" only where the last iteration did not raise
/// the objective (a line search that ends on a higher one keeps the best point, no optimum).
fn stop_reason(
    reason: Option<&TerminationReason>,
    (previous, last): (f64, f64),
    iterations: usize,
) -> String {
    match reason {
        _ if last > previous => format!(
            "stopped after {iterations} iterations: the last line search found no lower \
             objective (badly scaled inputs? try --preprocess standardize)"
        ),
        Some(TerminationReason::SolverConverged) => format!(
            "converged after {iterations} iterations (gradient norm or objective change below \
             tolerance)"
        ),
        Some(TerminationReason::SolverExit(why)) => {
            format!("converged after {iterations} iterations ({why})")
        }
        Some(reason) => format!("{} after {iterations} iterations", reason.text()),
        None => format!("stopped after {iterations} iterations"),
    }
}

/// More–Thuente's line search with no least step. argmin's default least step, √ε ≈ 1.5e-8
/// times the first direction −g, ended the first search on inputs in the millions: a step
/// short enough there is about 1e-12, and every trial above it raised the objective.
fn line_search() -> Result<MoreThuenteLineSearch<Params, Params, f64>> {
    MoreThuenteLineSearch::new().with_bounds(0.0, f64::INFINITY).map_err(solver_error)
}

/// The weights (in `F`) of L-BFGS's variables `params`: W itself, or V with W = V L⁻¹.
fn weights_of<F: Float>(
    params: &Params,
    shape: (usize, usize),
    preconditioner: Option<&Preconditioner>,
) -> Array2<F> {
    let variables = ArrayView2::from_shape(shape, params).expect("C×(D+1) parameters");
    match preconditioner {
        None => variables.mapv(F::of),
        Some(preconditioner) => preconditioner.weights(variables).mapv(F::of),
    }
}

fn solver_error(err: argmin::core::Error) -> Error {
    Error::Training(format!("L-BFGS failed: {err}"))
}

/// The objective as argmin sees it: a function of the flattened weights, in f64. What must
/// outlive it (argmin may drop it on an error) is borrowed from the run.
struct Problem<'o, 'd, 'p, F> {
    objective: &'o Objective<'d, F>,
    /// The training inputs as sparse rows, when the sparse kernel runs the passes.
    sparse_inputs: Option<SparseRows<F>>,
    shape: (usize, usize),
    /// W = V L⁻¹ when L-BFGS's variables are V.
    preconditioner: Option<&'p Preconditioner>,
    /// The last point evaluated.
    cache: &'p RefCell<Option<Evaluated>>,
    /// Loss+gradient passes so far.
    passes: &'p Cell<usize>,
    /// The line search under way.
    search: Cell<Search>,
    /// The relative decrease below which an iteration ends the run ([`RelativeDecreaseStop`]).
    ftol: f64,
    /// The first error of ours (a kernel's, or [`Error::Interrupted`]), which argmin would lose.
    failure: &'p RefCell<Option<Error>>,
    progress: RefCell<OnProgress<'p>>,
    steps: Arc<Mutex<Vec<Step>>>,
    max_iterations: usize,
}

impl<F: Float> Problem<'_, '_, '_, F> {
    /// Cost and gradient at `params`, from the cache or one loss+gradient pass, after which the
    /// progress callback is called; [`Error::Interrupted`] when it breaks.
    fn evaluate(&self, params: &Params) -> std::result::Result<(f64, Params), argmin::core::Error> {
        if let Some(last) = self.cache.borrow().as_ref()
            && &last.point == params
        {
            return Ok((last.cost, last.gradient.clone()));
        }
        let (iteration, start_cost) = {
            let steps = self.steps.lock().expect("not poisoned");
            (steps.len().saturating_sub(1), steps.last().map(|step| step.loss))
        };
        let search = self.search.get();
        let search = match search.iteration == iteration {
            true => search,
            false => Search { iteration, passes: 0, flat: true },
        };
        // Not failures of ours: argmin ends the run with these messages, at the last
        // iteration's point.
        if search.passes == LINE_SEARCH_PASSES {
            return Err(argmin::core::Error::msg(format!(
                "no lower objective along the search direction in {LINE_SEARCH_PASSES} passes"
            )));
        }
        if search.passes == FLAT_SEARCH_PASSES && search.flat {
            return Err(argmin::core::Error::msg(format!(
                "no lower objective by ftol along the search direction in {FLAT_SEARCH_PASSES} \
                 passes, all within {:.1e} of the start: flat to the precision of the {} passes",
                flat_band::<F>(),
                F::DTYPE_NAME,
            )));
        }
        let weights: Array2<F> = weights_of(params, self.shape, self.preconditioner);
        // The loss in f64 as the kernels sum it: a float32 loss would move in steps coarser
        // than the last iterations' decrease (see `LossAndGrad`).
        let out = match &self.sparse_inputs {
            Some(inputs) => self.objective.evaluate_sparse_precise(weights.view(), inputs),
            None => self.objective.evaluate_precise(weights.view()),
        }
        .map_err(|err| self.fail(err))?;
        let cost = out.loss;
        let weights_gradient = out.grad.mapv(|g| g.as_f64());
        let weights_gradient_norm = weights_gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
        let grad: Params = match self.preconditioner {
            None => weights_gradient.into_iter().collect(),
            Some(preconditioner) => {
                preconditioner.gradient(weights_gradient.view()).into_iter().collect()
            }
        };
        self.passes.set(self.passes.get() + 1);
        let flat = start_cost.is_some_and(|start| {
            let scale = start.abs();
            (cost - start).abs() <= flat_band::<F>() * scale && cost >= start - self.ftol * scale
        });
        self.search.set(Search { passes: search.passes + 1, flat: search.flat && flat, ..search });
        *self.cache.borrow_mut() = Some(Evaluated {
            point: params.clone(),
            cost,
            gradient: grad.clone(),
            weights_gradient_norm,
        });
        let total_iterations = self.max_iterations;
        let report = Progress { iteration, total_iterations, loss: cost, val_accuracy: None };
        if (self.progress.borrow_mut())(&report).is_break() {
            return Err(self.fail(Error::Interrupted));
        }
        Ok((cost, grad))
    }

    /// Records `err` (unless an earlier one was) and returns it for argmin, in words.
    fn fail(&self, err: Error) -> argmin::core::Error {
        let message = err.to_string();
        self.failure.borrow_mut().get_or_insert(err);
        argmin::core::Error::msg(message)
    }
}

impl<F: Float> CostFunction for Problem<'_, '_, '_, F> {
    type Param = Params;
    type Output = f64;

    fn cost(&self, params: &Params) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.evaluate(params)?.0)
    }
}

impl<F: Float> Gradient for Problem<'_, '_, '_, F> {
    type Param = Params;
    type Gradient = Params;

    fn gradient(&self, params: &Params) -> std::result::Result<Params, argmin::core::Error> {
        Ok(self.evaluate(params)?.1)
    }
}

/// A point L-BFGS evaluated: its cost, the gradient in its variables, and the norm of the
/// gradient in W.
struct Evaluated {
    point: Params,
    cost: f64,
    gradient: Params,
    weights_gradient_norm: f64,
}

/// [`FLAT_BAND`] epsilons of the pass type `F`, relative: 1.9e-6 in float32, 3.6e-15 in float64.
fn flat_band<F: Float>() -> f64 {
    FLAT_BAND * F::epsilon().as_f64()
}

/// The line search under way: its iteration, the passes it has taken, and whether every one of
/// them found the objective flat ([`FLAT_SEARCH_PASSES`]).
#[derive(Clone, Copy)]
struct Search {
    iteration: usize,
    passes: usize,
    flat: bool,
}

/// A solver that also stops when an iteration lowers the objective f by at most
/// `ftol`·max(|f_prev|, |f|). scipy's L-BFGS-B has max(|f_prev|, |f|, 1), which is loose when
/// f ≪ 1 (on standardized digits, f ≈ 0.024, it stops 9e-7 from the optimum; this rule, 2e-8);
/// argmin's own cost rule is absolute.
///
/// With `gradient_tolerance` it also stops when the gradient in W at the current point (from
/// the problem's `cache`) has a 2-norm below it, which argmin cannot see when its variables
/// are preconditioned.
struct RelativeDecreaseStop<'c, S> {
    solver: S,
    ftol: f64,
    gradient_tolerance: Option<f64>,
    cache: &'c RefCell<Option<Evaluated>>,
}

impl<O, S: Solver<O, LbfgsState>> Solver<O, LbfgsState> for RelativeDecreaseStop<'_, S> {
    fn name(&self) -> &str {
        self.solver.name()
    }

    fn init(
        &mut self,
        problem: &mut ArgminProblem<O>,
        state: LbfgsState,
    ) -> std::result::Result<(LbfgsState, Option<KV>), argmin::core::Error> {
        self.solver.init(problem, state)
    }

    fn next_iter(
        &mut self,
        problem: &mut ArgminProblem<O>,
        state: LbfgsState,
    ) -> std::result::Result<(LbfgsState, Option<KV>), argmin::core::Error> {
        self.solver.next_iter(problem, state)
    }

    fn terminate(&mut self, state: &LbfgsState) -> TerminationStatus {
        let inner = self.solver.terminate(state);
        if inner.terminated() {
            return inner;
        }
        let small_gradient = self.gradient_tolerance.is_some_and(|tolerance| {
            self.cache.borrow().as_ref().is_some_and(|last| {
                state.get_param() == Some(&last.point) && last.weights_gradient_norm < tolerance
            })
        });
        if small_gradient {
            return TerminationStatus::Terminated(TerminationReason::SolverConverged);
        }
        let (previous, cost) = (state.get_prev_cost(), state.get_cost());
        let scale = previous.abs().max(cost.abs());
        if previous.is_finite() && previous - cost <= self.ftol * scale {
            TerminationStatus::Terminated(TerminationReason::SolverExit(format!(
                "an iteration lowered the objective by less than ftol = {:e} relative",
                self.ftol
            )))
        } else {
            TerminationStatus::NotTerminated
        }
    }
}

/// Records the objective at the start (iteration 0) and after every iteration into the history.
struct StepRecorder(Arc<Mutex<Vec<Step>>>);

impl Observe<LbfgsState> for StepRecorder {
    fn observe_init(
        &mut self,
        _name: &str,
        state: &LbfgsState,
        kv: &KV,
    ) -> std::result::Result<(), argmin::core::Error> {
        self.observe_iter(state, kv)
    }

    fn observe_iter(
        &mut self,
        state: &LbfgsState,
        _kv: &KV,
    ) -> std::result::Result<(), argmin::core::Error> {
        // argmin calls observers before it counts the iteration: number the steps ourselves,
        // 0 for the starting point.
        let mut steps = self.0.lock().expect("not poisoned");
        let iteration = steps.len();
        steps.push(Step { iteration, epoch: iteration as f64, loss: state.get_cost() });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_last_iteration_that_raised_the_objective_is_not_converged() {
        let exit = TerminationReason::SolverExit("an iteration lowered the objective".into());
        let raised = stop_reason(Some(&exit), (1160.4, 3917.2), 1);
        assert!(raised.starts_with("stopped after 1 iterations: the last line search"), "{raised}");
        let lowered = stop_reason(Some(&exit), (0.5, 0.5 - 1e-12), 30);
        assert_eq!(lowered, "converged after 30 iterations (an iteration lowered the objective)");
        let max = stop_reason(Some(&TerminationReason::MaxItersReached), (2.0, 1.0), 5);
        assert_eq!(max, "Maximum number of iterations reached after 5 iterations");
    }
}
