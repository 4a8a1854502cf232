//! Data-parallel training over processes: every process holds a contiguous share of the
//! training rows, computes the loss and gradient of its share, and the processes add their
//! sums so that each of them takes the same optimizer step (as Spark MLlib, Vowpal Wabbit and
//! XGBoost train linear models). The processes talk through an [`Exchange`]: MPI's with the
//! `mpi` feature ([`mpi::Mpi`]); without one, or alone, a process trains alone as before.
//!
//! # The same bits as one process
//! A process's rows are the blocks [`Partition::slots_of`] gives it in the row-block partition
//! of the *whole* training split ([`partition`]: a function of N alone), and every sum over
//! rows (the loss and gradient of a pass, the preprocessing statistics) is added by the
//! partition's fixed pairwise tree: each process sums its subtree, then
//! [`Cluster::combine`] adds the subtrees by recursive doubling (at step s, process r and
//! r ⊕ 2^s swap their sums and both compute lower + upper: IEEE addition is commutative bit for
//! bit). So for K processes, K a power of two that divides the slot count (16 for 1,600 to
//! 524,287 rows) or exceeds it, the sums, the optimizer's steps and the model file are those
//! of one process, bit for bit. Other K give the same sums up to rounding: the subtrees of
//! uneven shares are added in rank order.
//!
//! # What a process does alone
//! Everything that does not sum over rows: the optimizer (argmin's L-BFGS, or a minibatch
//! update) runs on every process with the same numbers and takes the same steps. Only process
//! 0 writes files and prints (see the `softmax train` command).

pub mod partition;

#[cfg(feature = "mpi")]
pub mod mpi;

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use ndarray::Array2;

use crate::class_weight::ClassWeight;
use crate::{Error, Float, Kernel, LossAndGrad, Result};
pub use partition::Partition;
use partition::{Placement, summed, tree_sum};

/// How processes talk: point-to-point swaps, gathers and an abort. Every call is collective:
/// each process of the group makes it, in the same order, on the thread that joined.
pub trait Exchange {
    /// This process's number, 0..size.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Sends `mine` to process `partner` and receives its `theirs`, of the same length.
    fn swap(&self, partner: usize, mine: &[f64], theirs: &mut [f64]);
    /// Every process's `mine` (of any length), in rank order, on every process.
    fn gather(&self, mine: &[f64]) -> Vec<Vec<f64>>;
    /// Ends every process at once, with exit status `code` (after this one said why).
    fn abort(&self, code: i32) -> !;
}

/// The processes this one trains with: an [`Exchange`] of more than one process.
pub struct Cluster {
    exchange: Box<dyn Exchange>,
}

thread_local! {
    /// The group the process joined, on the thread that joined it (MPI's communicators belong
    /// to one thread).
    static CLUSTER: RefCell<Option<Rc<Cluster>>> = const { RefCell::new(None) };
}

/// Makes this thread's process one of `exchange`'s group until [`leave`] (a group of one
/// process is no group: [`cluster`] stays `None`, and `exchange` is dropped at once).
pub fn join(exchange: Box<dyn Exchange>) {
    if exchange.size() > 1 {
        CLUSTER.with(|cluster| cluster.replace(Some(Rc::new(Cluster { exchange }))));
    }
}

/// Leaves the group joined, dropping its exchange (MPI's is finalized).
pub fn leave() {
    drop(CLUSTER.with(|cluster| cluster.take()));
}

/// The group this thread's process trains with, if it joined one of more than one process.
pub fn cluster() -> Option<Rc<Cluster>> {
    CLUSTER.with(|cluster| cluster.borrow().clone())
}

/// This process's rank and the number of processes: (0, 1) alone.
pub fn rank_and_size() -> (usize, usize) {
    cluster().map_or((0, 1), |cluster| (cluster.rank(), cluster.size()))
}

/// The rows of a training split of `n_rows` rows this process holds: those of its slots of
/// the split's partition (all of them alone).
pub fn training_rows(n_rows: usize) -> Range<usize> {
    let (rank, size) = rank_and_size();
    let partition = Partition::of(n_rows);
    partition.rows_of(partition.slots_of(rank, size))
}

/// The rows of a held-out split (validation, test) of `n_rows` rows this process evaluates:
/// an even contiguous share (its counts are summed, so any share does).
pub fn held_out_rows(n_rows: usize) -> Range<usize> {
    let (rank, size) = rank_and_size();
    rank * n_rows / size..(rank + 1) * n_rows / size
}

impl Cluster {
    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.exchange.rank()
    }

    /// The number of processes.
    pub fn size(&self) -> usize {
        self.exchange.size()
    }

    /// Ends every process (after this one printed why).
    pub fn abort(&self, code: i32) -> ! {
        self.exchange.abort(code)
    }

    /// Every process's `mine`, in rank order.
    pub fn gather(&self, mine: &[f64]) -> Vec<Vec<f64>> {
        self.exchange.gather(mine)
    }

    /// Σ over the processes of `mine` (counts: exact below 2^53).
    pub fn sum_counts(&self, mine: &[usize]) -> Vec<usize> {
        let values: Vec<f64> = mine.iter().map(|&count| count as f64).collect();
        let mut total = vec![0usize; mine.len()];
        for theirs in self.gather(&values) {
            for (total, count) in total.iter_mut().zip(theirs) {
                *total += count as usize;
            }
        }
        total
    }

    /// Whether every process has the same `fingerprint` (of its options, say).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the first process whose fingerprint differs from process
    /// 0's.
    pub fn agree(&self, what: &str, fingerprint: u64) -> Result<()> {
        let halves = [(fingerprint >> 32) as f64, (fingerprint & 0xffff_ffff) as f64];
        let all = self.gather(&halves);
        match all.iter().position(|theirs| *theirs != all[0]) {
            None => Ok(()),
            Some(rank) => Err(Error::InvalidOption(format!(
                "process {rank} has other {what} than process 0: every process must be started \
                 with the same ones"
            ))),
        }
    }

    /// `mine` if every process's result is `Ok`: this process's error if it has one, else an
    /// error naming the first process that failed (which says why itself). Every process then
    /// knows whether all succeeded, and none waits for another.
    ///
    /// # Errors
    /// As above.
    pub fn all_ok<T, E: From<Error>>(
        &self,
        mine: std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let all = self.gather(&[f64::from(u8::from(mine.is_ok()))]);
        match (mine, all.iter().position(|ok| ok[0] == 0.0)) {
            (Err(err), _) => Err(err),
            (Ok(value), None) => Ok(value),
            (Ok(_), Some(rank)) => Err(E::from(Error::Training(format!(
                "process {rank} of {} failed (its own message says why)",
                self.size()
            )))),
        }
    }

    /// Σ over the processes of `mine` (`None`: this process has nothing to add), every
    /// process's `values` of the same length: by recursive doubling when the number of
    /// processes is a power of two (at step s, process r and r ⊕ 2^s swap their sums and both
    /// compute lower + upper, bit for bit the same), else gathered and added by the pairwise
    /// tree over ranks. Either way every process gets the same bits, and when the processes
    /// hold aligned subtrees of a partition ([`Partition::slots_of`]) those of the one-process
    /// tree. Values travel as f64 (exact for f32) and are added in `F`.
    pub fn combine<F: Float>(&self, mine: Option<Vec<F>>, len: usize) -> Option<Vec<F>> {
        self.combine_by(mine, len, &|sum: &mut Vec<F>, other: Vec<F>| add_to(sum, &other))
    }

    /// [`Cluster::combine`] with another commutative `merge` of two processes' values (bit
    /// for bit the same either way round) than their sum.
    pub fn combine_by<F: Float>(
        &self,
        mine: Option<Vec<F>>,
        len: usize,
        merge: &(impl Fn(&mut Vec<F>, Vec<F>) + Sync),
    ) -> Option<Vec<F>> {
        let (rank, size) = (self.rank(), self.size());
        if !size.is_power_of_two() {
            let all = self.gather(&encode(mine.as_deref(), len));
            let leaf = |rank: usize| all.get(rank).and_then(|m| decode::<F>(m)).map(Ok::<_, ()>);
            let ranks = 0..size.next_power_of_two();
            return tree_sum(ranks, false, &leaf, merge).map(|sum| sum.expect("no errors"));
        }
        let mut sum = mine;
        let mut theirs = vec![0.0; len + 1];
        let mut distance = 1;
        while distance < size {
            self.exchange.swap(rank ^ distance, &encode(sum.as_deref(), len), &mut theirs);
            sum = match (sum, decode::<F>(&theirs)) {
                (Some(mut total), Some(other)) => {
                    merge(&mut total, other);
                    Some(total)
                }
                (one, None) | (None, one) => one,
            };
            distance *= 2;
        }
        sum
    }
}

/// `sum` += `other`, value by value.
fn add_to<F: Float>(sum: &mut [F], other: &[F]) {
    for (sum, &other) in sum.iter_mut().zip(other) {
        *sum += other;
    }
}

/// A sum as it travels: a presence flag (1 or 0), then `len` values (zeros when absent).
fn encode<F: Float>(values: Option<&[F]>, len: usize) -> Vec<f64> {
    let mut message = Vec::with_capacity(len + 1);
    match values {
        Some(values) => {
            message.push(1.0);
            message.extend(values.iter().map(|v| v.as_f64()));
        }
        None => message.resize(len + 1, 0.0),
    }
    message
}

/// The sum [`encode`] made, if present.
fn decode<F: Float>(message: &[f64]) -> Option<Vec<F>> {
    (message[0] != 0.0).then(|| message[1..].iter().map(|&v| F::of(v)).collect())
}

/// The training split's placement in a distributed fit: its whole row count, this process's
/// slots, and its samples' weight sum once known.
#[derive(Clone, Debug)]
struct Shard {
    partition: Partition,
    slots: Range<usize>,
    /// Σ s_i over the whole training split, summed in sample order, when samples are weighted.
    weight_sum: Option<f64>,
}

thread_local! {
    /// The shard of the fit running on this thread, inside [`sharded`].
    static SHARD: RefCell<Option<Shard>> = const { RefCell::new(None) };
}

/// Runs `fit` (a whole fit: preprocessing and training) on this process's `local_rows`
/// training rows as its share of the training split of all processes, when this process is one
/// of a [`cluster`]: its sums over rows are then combined with the other processes' (see the
/// module doc). Alone, it runs `fit` as it is.
///
/// The passes run `kernel`: `fused`, `gemm`, `sparse` or `auto` (which then never picks
/// `sparse`), the kernels that sum by the partition.
///
/// # Errors
/// [`Error::InvalidOption`] for another kernel; [`Error::InconsistentData`] when this
/// process's rows are not its share of the whole split ([`training_rows`]); what `fit`
/// returns.
pub(crate) fn sharded<T>(
    local_rows: usize,
    kernel: Kernel,
    fit: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let Some(cluster) = cluster() else {
        return fit();
    };
    check_kernel(kernel)?;
    let n_rows = cluster.sum_counts(&[local_rows])[0];
    let partition = Partition::of(n_rows);
    let slots = partition.slots_of(cluster.rank(), cluster.size());
    let expected = partition.rows_of(slots.clone()).len();
    cluster.all_ok(match expected == local_rows {
        true => Ok(()),
        false => Err(Error::InconsistentData(format!(
            "process {} holds {local_rows} training rows; its share of {n_rows} is {expected}",
            cluster.rank()
        ))),
    })?;
    let shard = Shard { partition, slots, weight_sum: None };
    let previous = SHARD.with(|current| current.replace(Some(shard)));
    let result = fit();
    SHARD.with(|current| current.replace(previous));
    result
}

/// Refuses a kernel that cannot train on a share of the training split: `naive` and
/// `vectorized` divide their sums on their own.
///
/// # Errors
/// [`Error::InvalidOption`] naming the kernel.
pub fn check_kernel(kernel: Kernel) -> Result<()> {
    match kernel {
        Kernel::Fused | Kernel::Gemm | Kernel::Sparse | Kernel::Auto => Ok(()),
        other => Err(Error::InvalidOption(format!(
            "kernel '{other}' does not train across processes: use fused, gemm, sparse or auto"
        ))),
    }
}

/// Whether a fit on this thread runs on a share of the training split ([`sharded`]).
pub(crate) fn is_sharded() -> bool {
    SHARD.with(|shard| shard.borrow().is_some())
}

/// `mine` (counts of this process's rows) summed over every process inside a shard, as they
/// are; a decision taken from them (the kernel `auto` picks) is then the same everywhere.
/// Collective in a shard.
pub(crate) fn whole_split_counts<const K: usize>(mine: [usize; K]) -> [usize; K] {
    match cluster().filter(|_| is_sharded()) {
        Some(cluster) => cluster.sum_counts(&mine).try_into().expect("K counts"),
        None => mine,
    }
}

/// N: the training split's rows over all processes (`local_rows` alone).
pub(crate) fn training_split_rows(local_rows: usize) -> usize {
    SHARD.with(|shard| shard.borrow().as_ref().map_or(local_rows, |shard| shard.partition.n_rows))
}

/// `class_weight` as the whole training split resolves it, inside a shard: `balanced` becomes
/// the per-class weights of every process's `labels` and `sample_weights`, gathered in rank
/// (sample) order, so that they are those of one process; other class weights stay.
///
/// # Errors
/// Those of [`ClassWeight::resolve`].
pub(crate) fn whole_split_class_weight(
    class_weight: &ClassWeight,
    labels: &[usize],
    n_classes: usize,
    sample_weights: Option<&[f64]>,
) -> Result<ClassWeight> {
    let cluster = cluster().filter(|_| is_sharded());
    let (Some(cluster), ClassWeight::Balanced) = (cluster, class_weight) else {
        return Ok(class_weight.clone());
    };
    let mine: Vec<f64> = labels.iter().map(|&label| label as f64).collect();
    let all_labels: Vec<usize> =
        cluster.gather(&mine).into_iter().flatten().map(|label| label as usize).collect();
    let all_weights: Option<Vec<f64>> =
        sample_weights.map(|weights| cluster.gather(weights).into_iter().flatten().collect());
    let resolved = class_weight.resolve(&all_labels, n_classes, all_weights.as_deref())?;
    Ok(resolved.map_or(ClassWeight::None, ClassWeight::PerClass))
}

/// The rows (numbered in the whole training split) this process holds of it: its share inside
/// a shard, all `local_rows` alone.
pub(crate) fn own_training_rows(local_rows: usize) -> Range<usize> {
    SHARD.with(|shard| match shard.borrow().as_ref() {
        Some(shard) => shard.partition.rows_of(shard.slots.clone()),
        None => 0..local_rows,
    })
}

/// Records the training split's weight sum from this process's sample `weights` (in the
/// dtype of training): every process's, concatenated in rank order, summed in f64 in sample
/// order, as [`crate::SampleWeights::new`] sums them on one process. Collective in a shard.
pub(crate) fn weigh<F: Float>(weights: Option<&[F]>) {
    let Some(cluster) = cluster().filter(|_| is_sharded()) else {
        return;
    };
    let cluster = &cluster;
    let weight_sum = weights.map(|weights| {
        let mine: Vec<f64> = weights.iter().map(|w| w.as_f64()).collect();
        cluster.gather(&mine).into_iter().flatten().sum()
    });
    SHARD.with(|shard| {
        if let Some(shard) = shard.borrow_mut().as_mut() {
            shard.weight_sum = weight_sum;
        }
    });
}

/// The mean data loss and gradient (C×D for `shape`) over the whole training split, from this
/// process's `pass` over its rows inside a shard: the pass returns sums over its slots
/// ([`summed`]; skipped when the process has no rows), the processes combine them, and the
/// sums are divided by N (or Σ s_i with `weighted` samples) as a one-process pass divides
/// them. Outside a shard, `pass` as it is.
///
/// # Errors
/// What `pass` returns.
pub(crate) fn whole_pass<F: Float>(
    shape: (usize, usize),
    local_rows: usize,
    weighted: bool,
    pass: impl FnOnce() -> Result<LossAndGrad<F, f64>>,
) -> Result<LossAndGrad<F, f64>> {
    let Some((cluster, shard)) = cluster().zip(SHARD.with(|shard| shard.borrow().clone())) else {
        return pass();
    };
    let placement = Placement { n_rows: shard.partition.n_rows, slots: shard.slots.clone() };
    let normalizer = match (weighted, shard.weight_sum) {
        (true, Some(sum)) => sum,
        _ => shard.partition.n_rows as f64,
    };
    let mine = match local_rows {
        0 => None,
        _ => Some(summed(Some(placement), pass)?),
    };
    let (sums, _) = combined(&cluster, shape, mine, local_rows)?;
    Ok(divided(sums, F::of(normalizer)))
}

/// The mean data loss and gradient over a minibatch whose rows are spread over the processes
/// inside a shard: this process's `pass` over its `local_rows` rows of it returns sums
/// ([`summed`], its own partition; skipped without rows), the processes combine them with
/// their row counts (in rank order: the same for a given number of processes, not across
/// numbers), and the sums are divided by |B| (or |B|·s̄ with `weighted` samples, s̄ the whole
/// split's mean weight), as a one-process minibatch is. Outside a shard, `pass` as it is.
///
/// # Errors
/// What `pass` returns.
pub(crate) fn batch_pass<F: Float>(
    shape: (usize, usize),
    local_rows: usize,
    weighted: bool,
    pass: impl FnOnce() -> Result<LossAndGrad<F, f64>>,
) -> Result<LossAndGrad<F, f64>> {
    let Some((cluster, shard)) = cluster().zip(SHARD.with(|shard| shard.borrow().clone())) else {
        return pass();
    };
    let mine = match local_rows {
        0 => None,
        _ => Some(summed(None, pass)?),
    };
    let (sums, batch) = combined(&cluster, shape, mine, local_rows)?;
    let normalizer = match (weighted, shard.weight_sum) {
        (true, Some(sum)) => batch * (sum / shard.partition.n_rows as f64),
        _ => batch,
    };
    Ok(divided(sums, F::of(normalizer)))
}

/// The processes' sums `mine` ([`summed`] passes' loss and gradient, C×D for `shape`) and
/// their row counts, combined ([`Cluster::combine`]): the gradients in `F`, the row counts and
/// the losses in f64, as one process sums its blocks' losses.
///
/// # Errors
/// [`Error::Empty`] when no process had rows.
fn combined<F: Float>(
    cluster: &Cluster,
    (n_classes, n_columns): (usize, usize),
    mine: Option<LossAndGrad<F, f64>>,
    local_rows: usize,
) -> Result<(LossAndGrad<F, f64>, f64)> {
    let nobody = || Error::Empty("no process holds a row of the training pass".into());
    let counts = mine.as_ref().map(|sums| vec![local_rows as f64, sums.loss]);
    let [rows, loss] = cluster.combine(counts, 2).ok_or_else(nobody)?[..] else {
        unreachable!("two sums")
    };
    let grad = mine.map(|sums| sums.grad.iter().copied().collect());
    let grad = cluster.combine(grad, n_classes * n_columns);
    let grad = Array2::from_shape_vec((n_classes, n_columns), grad.ok_or_else(nobody)?);
    Ok((LossAndGrad { loss, grad: grad.expect("C×D sums") }, rows))
}

/// Sums divided by `normalizer`, as the kernels divide them (the loss in f64).
fn divided<F: Float>(sums: LossAndGrad<F, f64>, normalizer: F) -> LossAndGrad<F, f64> {
    LossAndGrad { loss: sums.loss / normalizer.as_f64(), grad: sums.grad.mapv(|g| g / normalizer) }
}

/// The fraction of `predicted` equal to `labels`, over every process's samples when this one
/// is one of a [`cluster`] (each predicts its share of a split: the counts are summed); this
/// process's alone otherwise. Collective in a cluster.
pub fn accuracy(predicted: &[usize], labels: &[usize]) -> f64 {
    match cluster() {
        None => crate::metrics::accuracy(predicted, labels),
        Some(cluster) => {
            let right = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
            let counts = cluster.sum_counts(&[right, labels.len()]);
            counts[0] as f64 / counts[1] as f64
        }
    }
}

/// This process's slots of the training split inside a shard, as the placement of a pass over
/// them, with the cluster; `None` outside one (the statistics are then of the rows given).
pub(crate) fn training_placement() -> Option<(Rc<Cluster>, Placement)> {
    let shard = SHARD.with(|shard| shard.borrow().clone())?;
    let placement = Placement { n_rows: shard.partition.n_rows, slots: shard.slots };
    cluster().map(|cluster| (cluster, placement))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::mpsc::{Receiver, Sender, channel};

    use super::*;

    /// Processes as threads, talking through channels (each sender's messages in order).
    struct Threads {
        rank: usize,
        to: Vec<Sender<(usize, Vec<f64>)>>,
        inbox: Receiver<(usize, Vec<f64>)>,
        pending: RefCell<Vec<VecDeque<Vec<f64>>>>,
    }

    impl Threads {
        /// The next message from `from`.
        fn receive(&self, from: usize) -> Vec<f64> {
            loop {
                if let Some(message) = self.pending.borrow_mut()[from].pop_front() {
                    return message;
                }
                let (sender, message) = self.inbox.recv().expect("a message");
                self.pending.borrow_mut()[sender].push_back(message);
            }
        }
    }

    impl Exchange for Threads {
        fn rank(&self) -> usize {
            self.rank
        }
        fn size(&self) -> usize {
            self.to.len()
        }
        fn swap(&self, partner: usize, mine: &[f64], theirs: &mut [f64]) {
            self.to[partner].send((self.rank, mine.to_vec())).unwrap();
            theirs.copy_from_slice(&self.receive(partner));
        }
        fn gather(&self, mine: &[f64]) -> Vec<Vec<f64>> {
            for to in &self.to {
                to.send((self.rank, mine.to_vec())).unwrap();
            }
            (0..self.size()).map(|from| self.receive(from)).collect()
        }
        fn abort(&self, _code: i32) -> ! {
            panic!("aborted")
        }
    }

    /// Runs `work` on `size` processes (threads) and returns their results in rank order.
    fn on_processes<T: Send>(size: usize, work: impl Fn(&Cluster) -> T + Sync) -> Vec<T> {
        let (to, inboxes): (Vec<_>, Vec<_>) = (0..size).map(|_| channel()).unzip();
        std::thread::scope(|scope| {
            let handles: Vec<_> = inboxes
                .into_iter()
                .enumerate()
                .map(|(rank, inbox)| {
                    let (to, work) = (to.clone(), &work);
                    scope.spawn(move || {
                        let pending = RefCell::new(vec![VecDeque::new(); size]);
                        let exchange = Threads { rank, to, inbox, pending };
                        work(&Cluster { exchange: Box::new(exchange) })
                    })
                })
                .collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        })
    }

    /// Each slot's sum: values of mixed signs and magnitudes, so that the order of addition
    /// shows in the last bits.
    fn slot_sum(slot: usize) -> Vec<f64> {
        (0..5).map(|j| ((slot * 7919 + j * 104_729) % 1000) as f64 * 1.1e-3 - 0.5e-1).collect()
    }

    /// The tree over all slots (one process) equals, bit for bit, every process's subtree
    /// combined by recursive doubling for K a power of two, whether K divides the slot count
    /// or exceeds it (processes without slots); other K agree on every process, to rounding.
    #[test]
    fn processes_complete_the_one_process_tree() {
        let partition = Partition::of(1700);
        assert_eq!(partition.slots, 16);
        let leaf = |slot: usize| {
            let rows = partition.rows(slot);
            (!rows.is_empty()).then(|| Ok::<_, ()>(slot_sum(slot)))
        };
        let add = |sum: &mut Vec<f64>, other: Vec<f64>| add_to(sum, &other);
        let alone = tree_sum(0..partition.slots, false, &leaf, &add).unwrap().unwrap();
        for size in [2, 3, 4, 5, 8, 16, 32] {
            let results = on_processes(size, |cluster| {
                let slots = partition.slots_of(cluster.rank(), size);
                let mine = tree_sum(slots, false, &leaf, &add).map(Result::unwrap);
                cluster.combine(mine, 5).unwrap()
            });
            assert!(results.iter().all(|result| *result == results[0]), "{size} processes");
            if size.is_power_of_two() {
                assert_eq!(results[0], alone, "{size} processes");
            } else {
                for (a, b) in results[0].iter().zip(&alone) {
                    assert!((a - b).abs() <= 1e-15, "{size} processes: {a} against {b}");
                }
            }
        }
    }

    /// Every process's slots are its rows' blocks, in order, covering every row once.
    #[test]
    fn shares_cover_the_rows_in_order() {
        for n_rows in [1, 150, 1700, 60_000, 1_280_000] {
            let partition = Partition::of(n_rows);
            for size in [1, 2, 3, 4, 16, 64] {
                let shares: Vec<_> = (0..size)
                    .map(|rank| partition.rows_of(partition.slots_of(rank, size)))
                    .collect();
                assert_eq!(shares[0].start, 0);
                assert_eq!(shares[size - 1].end, n_rows, "N = {n_rows}, K = {size}");
                assert!(shares.windows(2).all(|pair| pair[0].end == pair[1].start));
            }
        }
        assert_eq!(Partition::of(1_280_000).slots, 64);
        assert_eq!(Partition::of(60_000).slots, 16);
    }
}
