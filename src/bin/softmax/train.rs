//! `softmax train`: fit a classifier on a data set and report its accuracies as JSON, and in
//! words when a person is reading.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;
use softmax::data::{Dataset, MappedDataset, MappedSplits, SplitName, Splits, can_map};
use softmax::fit::{FitOptions, Fitted, fit, fit_mapped};
use softmax::report::SplitData;

use crate::options::{TrainArgs, start_threads};
use crate::output::{check_folder_writable, check_writable, print_error, print_line};
use crate::progress::Bar;
use crate::report::write_training_report;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    train: TrainArgs,
    /// Learning rate of the minibatch optimizers (default: sgd 0.1, momentum/nesterov 0.01, adam 0.001).
    #[arg(long)]
    lr: Option<f64>,
    /// L2 regularization strength (≥ 0), in the --reg-convention.
    #[arg(long, default_value_t = 1e-4, allow_hyphen_values = true)]
    reg: f64,
    /// Write the model here (safetensors; its folder is checked before training, and the file
    /// is replaced atomically: a run that fails before writing it leaves an existing file alone).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Write the loss per step and the accuracies per epoch here: .json, or CSV otherwise.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Write the pictures of the run and report.html, one page about it, into this folder.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Print only the JSON line, even at a terminal (where a summary in words follows it).
    #[arg(long)]
    json: bool,
    /// Read an npy: source's inputs into memory instead of mapping them (a group of processes
    /// under mpirun always reads them, each process its share, and trains this model bit for bit).
    #[arg(long)]
    no_mmap: bool,
    /// Also report the top-K accuracy (K ≥ 1) of every split: JSON keys "top_k",
    /// "train_top_k_accuracy", "val_top_k_accuracy", "test_top_k_accuracy". A sample counts when
    /// fewer than K other classes score at least as high as its own (ties count against it).
    #[arg(long, value_name = "K")]
    top_k: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    // Under `mpirun`/`srun` (with the `mpi` feature) this process is one of a group that trains
    // one model; started alone, it trains alone.
    #[cfg(feature = "mpi")]
    if let Some(mpi) = softmax::distributed::mpi::Mpi::initialize() {
        softmax::distributed::join(Box::new(mpi));
    }
    let result = train(args);
    match (result, softmax::distributed::cluster()) {
        // Every process knows of this error (a vote): each says it, waits until all have
        // (mpirun ends the others as soon as one exits non-zero, which could cut a message
        // off), and ends by itself.
        (Err(err), Some(cluster)) if err.downcast_ref::<OnProcess>().is_some() => {
            print_error(&err);
            let _all_said_it = cluster.sum_counts(&[1]);
            softmax::distributed::leave();
            std::process::exit(1)
        }
        (Err(err), Some(cluster)) => {
            // The other processes may wait for this one in a pass: end them all, now.
            print_error(&err.context(OnProcess::this(&cluster)));
            cluster.abort(1)
        }
        (result, _) => {
            softmax::distributed::leave();
            result
        }
    }
}

/// Which process of a group an error is from: "process 1 of 4". As the context of an error,
/// it also says that every process knows of it ([`voted`]).
#[derive(Debug)]
struct OnProcess {
    rank: usize,
    size: usize,
}

impl OnProcess {
    fn this(cluster: &softmax::distributed::Cluster) -> OnProcess {
        OnProcess { rank: cluster.rank(), size: cluster.size() }
    }
}

impl std::fmt::Display for OnProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "process {} of {}", self.rank, self.size)
    }
}

/// `mine` if every process of the group has an `Ok` (alone: `mine`), else an error that every
/// process knows of: its own, or one naming the first process that failed. Collective.
fn voted<T>(mine: Result<T>) -> Result<T> {
    match softmax::distributed::cluster() {
        Some(cluster) => cluster.all_ok(mine).map_err(|err| err.context(OnProcess::this(&cluster))),
        None => mine,
    }
}

/// [`run`], on this process's share of the data when it is one of several: every process
/// trains the same model, process 0 alone writes and prints.
fn train(args: Args) -> Result<()> {
    let (rank, processes) = softmax::distributed::rank_and_size();
    // Every option is checked before any work; named class weights once the classes are known.
    let options = FitOptions { top_k: args.top_k, ..args.train.fit_options(args.lr, args.reg) };
    options.clone().check()?;
    if let Some(cluster) = softmax::distributed::cluster() {
        softmax::distributed::check_kernel(options.kernel)?;
        cluster.agree("options", fingerprint(&args))?;
    }
    if let Some(dir) = &args.report {
        check_folder_writable("--report", dir)?;
    }
    if let Some(path) = &args.model {
        check_writable("--model", path)?;
    }
    if let Some(path) = &args.history {
        check_writable("--history", path)?;
    }
    start_threads(args.train.threads)?;
    let bar = Bar::new(args.train.quiet || rank > 0, "training");
    let mut on_progress = |p: &softmax::train::Progress| {
        bar.update(p);
        ControlFlow::Continue(())
    };
    // An `npy:` source is mapped, not read: its rows stay in the file (see `fit_mapped`). A
    // group of processes reads it instead, each keeping its share, as any other source.
    let mapped = can_map(&args.train.data.data) && processes == 1 && !args.no_mmap;
    let Run { fitted, about, test, report_data } = match mapped {
        true => {
            let splits = args.train.load_mapped_data()?;
            let class_weight = args.train.class_weight(&splits.train.class_names)?;
            let options = FitOptions { class_weight, ..options }.check()?;
            let about = AboutData::of_mapped(&splits, &args.train);
            let MappedSplits { train, validation, .. } = splits;
            // A report evaluates the validation split (else train), read from the file a chunk
            // at a time as the training reads it.
            let report_data = args.report.as_ref().map(|_| match &validation {
                Some(validation) => (SplitName::Validation, SplitData::Mapped(validation.clone())),
                None => (SplitName::Train, SplitData::Mapped(train.clone())),
            });
            let fitted = fit_mapped(train, validation, &options, &mut on_progress);
            Run { fitted, about, test: None, report_data }
        }
        false => {
            // In a group, each process's share of every split (`softmax::data::load`).
            let splits = voted(args.train.load_data())?;
            // Collective in a group: the whole training split's classes, rows and weights.
            let checked = softmax::fit::check_data(&splits.train, splits.validation.as_ref())
                .with_context(|| format!("checking {}", args.train.weighted(&splits.description)));
            let options = voted(checked.and_then(|()| {
                let class_weight = args.train.class_weight(&splits.train.class_names)?;
                Ok(FitOptions { class_weight, ..options }.check()?)
            }))?;
            let about = AboutData::of(&splits, &args.train);
            // `fit` takes the training and validation splits (it preprocesses them in place). A
            // report evaluates the held-out split as loaded: the test split if the source has
            // one, else a copy of validation or train taken now.
            let (held_out, _) = splits.held_out();
            let report_data = match (&args.report, held_out) {
                (Some(_), SplitName::Train | SplitName::Validation) => {
                    splits.get(held_out).cloned().map(|data| (held_out, SplitData::Loaded(data)))
                }
                _ => None,
            };
            let Splits { train, validation, test, .. } = splits;
            let fitted = fit(train, validation, &options, &mut on_progress);
            Run { fitted, about, test, report_data }
        }
    };
    bar.finish();
    let fitted = fitted
        .with_context(|| format!("training on {}", args.train.weighted(&about.description)))?;
    let summary = summary(&fitted, &about, test.as_ref(), args.model.as_ref())?;
    // A report shows a whole held-out split: in a group, every process's share of it.
    // (A group never maps its data.)
    let report_data = match (&args.report, softmax::distributed::cluster()) {
        (Some(_), Some(cluster)) => report_data
            .or_else(|| test.clone().map(|test| (SplitName::Test, SplitData::Loaded(test))))
            .map(|(split, share)| match share {
                SplitData::Loaded(share) => {
                    (split, SplitData::Loaded(whole_split(&cluster, share)))
                }
                mapped => (split, mapped),
            }),
        _ => report_data,
    };
    if rank > 0 {
        return Ok(()); // process 0 writes and prints
    }
    // The model first: an error in a later output must not lose it, and says where it is.
    if let Some(path) = &args.model {
        fitted.model.save(path)?;
    }
    let saved = match &args.model {
        Some(path) => format!(" (the model was saved to {})", path.display()),
        None => String::new(),
    };
    if let Some(path) = &args.history {
        fitted.history.write(path).with_context(|| format!("writing the history{saved}"))?;
    }
    let held_out =
        report_data.or_else(|| test.map(|test| (SplitName::Test, SplitData::Loaded(test))));
    if let (Some(dir), Some(held_out)) = (&args.report, held_out) {
        let source = args.train.data.data.to_string();
        let model_path = args.model.as_deref();
        write_training_report(
            &fitted,
            &about.description,
            held_out,
            &source,
            &summary,
            model_path,
            dir,
        )
        .with_context(|| format!("writing the report{saved}"))?;
    }
    print_line(&summary.to_string())?;
    // The words go where the JSON went, and only when that is a terminal: a program reading
    // stdout through a pipe, or anyone passing --json, gets exactly the one JSON line.
    if !args.json && std::io::stdout().is_terminal() {
        print_line(&in_words(&summary))?;
    }
    Ok(())
}

/// What a run of either path (data read or mapped) hands on: the training's outcome, the facts
/// of its data, the test split if the source has one, and a copy of the held-out split a report
/// shows when that is not the test split.
struct Run {
    fitted: softmax::Result<Fitted>,
    about: AboutData,
    test: Option<Dataset>,
    report_data: Option<(SplitName, SplitData)>,
}

/// The split whose share this process holds, `share`, from every process's share in rank
/// order (on every process; collective).
fn whole_split(cluster: &softmax::distributed::Cluster, share: Dataset) -> Dataset {
    let n_features = share.n_features();
    let values: Vec<f64> = share.inputs.iter().map(|&x| f64::from(x)).collect();
    let inputs: Vec<f32> = cluster.gather(&values).concat().iter().map(|&x| x as f32).collect();
    let labels: Vec<f64> = share.labels.iter().map(|&label| label as f64).collect();
    let labels = cluster.gather(&labels).concat().iter().map(|&label| label as usize).collect();
    let sample_weights =
        share.sample_weights.as_ref().map(|weights| cluster.gather(weights).concat());
    let n_samples = inputs.len() / n_features.max(1);
    let inputs = ndarray::Array2::from_shape_vec((n_samples, n_features), inputs)
        .expect("whole rows from every process");
    Dataset { inputs, labels, sample_weights, ..share }
}

/// A hash of the parsed arguments and of this machine's instruction set (on which the kernels'
/// last bits depend), which every process of a group must share.
fn fingerprint(args: &Args) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    format!("{args:?} {}", softmax::Isa::detect().name()).hash(&mut hasher);
    hasher.finish()
}

/// The JSON summary of a run ([`summary`]) in a few lines for a person: the data, the
/// accuracies (and top-k accuracies), the objective and the cost, why training stopped and where
/// the model went.
pub fn in_words(summary: &serde_json::Value) -> String {
    let number = |key: &str| summary[key].as_f64();
    let accuracies = per_split(summary, "accuracy");
    let text = |key: &str| summary[key].as_str().unwrap_or("?").to_string();
    let model = match summary["model"].as_str() {
        Some(path) => format!("saved to {path}"),
        None => "not saved (--model PATH saves it)".to_string(),
    };
    let lines = [
        ("data", text("data")),
        ("accuracy", accuracies),
        (
            "objective",
            format!(
                "{:.6} after {} iterations ({:.2} passes over the data) in {:.2} s",
                number("objective").unwrap_or(f64::NAN),
                summary["iterations"],
                number("passes").unwrap_or(f64::NAN),
                number("seconds").unwrap_or(f64::NAN),
            ),
        ),
        ("stopped", text("stop_reason")),
        ("model", model),
    ];
    let mut lines: Vec<String> =
        lines.iter().map(|(what, value)| format!("{what:>9}  {value}")).collect();
    if let Some(k) = summary["top_k"].as_u64() {
        let what = format!("top-{k}");
        lines.insert(2, format!("{what:>9}  {}", per_split(summary, "top_k_accuracy")));
    }
    lines.join("\n")
}

/// "train 0.9265, validation 0.9310, test 0.9220": the summary's `train_`, `val_` and `test_`
/// keys of a `measure`, those that are numbers.
fn per_split(summary: &serde_json::Value, measure: &str) -> String {
    let splits = [("train", "train"), ("val", "validation"), ("test", "test")];
    let values: Vec<String> = splits
        .into_iter()
        .filter_map(|(key, name)| {
            Some(format!("{name} {:.4}", summary[format!("{key}_{measure}")].as_f64()?))
        })
        .collect();
    values.join(", ")
}

/// What a run's summary says about its data: where it came from, how many samples each split
/// has and where their weights came from. Taken before [`fit`] consumes the training and
/// validation splits.
pub struct AboutData {
    pub description: String,
    n_train: usize,
    n_validation: Option<usize>,
    n_test: Option<usize>,
    sample_weight: Option<PathBuf>,
    weight_column: Option<String>,
}

impl AboutData {
    /// The facts of `splits`, loaded as `args` say: in a group, of every process's shares
    /// (collective).
    pub fn of(splits: &Splits, args: &TrainArgs) -> AboutData {
        let held_out = [&splits.validation, &splits.test];
        let mut counts = vec![splits.train.n_samples()];
        counts.extend(held_out.map(|split| split.as_ref().map_or(0, Dataset::n_samples)));
        if let Some(cluster) = softmax::distributed::cluster() {
            counts = cluster.sum_counts(&counts);
        }
        let [n_validation, n_test] = [1, 2].map(|k| held_out[k - 1].as_ref().map(|_| counts[k]));
        AboutData {
            description: splits.description.clone(),
            n_train: counts[0],
            n_validation,
            n_test,
            sample_weight: args.sample_weight.clone(),
            weight_column: args.data.weight_column.clone(),
        }
    }

    /// The facts of mapped `splits`, loaded as `args` say.
    pub fn of_mapped(splits: &MappedSplits, args: &TrainArgs) -> AboutData {
        AboutData {
            description: splits.description.clone(),
            n_train: splits.train.n_samples(),
            n_validation: splits.validation.as_ref().map(MappedDataset::n_samples),
            n_test: None,
            sample_weight: args.sample_weight.clone(),
            weight_column: args.data.weight_column.clone(),
        }
    }
}

/// The JSON summary of a run: accuracies on every split (the model is scored on `test` here,
/// unweighted), the objective (weighted, with weights), the cost, and the weights: the class
/// weights as the model's options record them, the sample weights' file or CSV column.
pub fn summary(
    fitted: &Fitted,
    about: &AboutData,
    test: Option<&Dataset>,
    model_path: Option<&PathBuf>,
) -> Result<serde_json::Value> {
    let top_k = fitted.top_k.as_ref().map(|top_k| top_k.k);
    let test_scored = test
        .map(|test| softmax::metrics::score(&fitted.model, test.inputs.view(), &test.labels, top_k))
        .transpose()?;
    let test_accuracy = test.zip(test_scored.as_ref()).map(|(test, scored)| {
        // Every process's share of the test split, counted together.
        softmax::distributed::accuracy(&scored.predicted, &test.labels)
    });
    let mut summary = json!({
        "train_accuracy": fitted.train_accuracy,
        "val_accuracy": fitted.val_accuracy,
        "test_accuracy": test_accuracy,
        "objective": fitted.objective,
        "iterations": fitted.iterations,
        "seconds": fitted.seconds,
        "model": model_path,
        "passes": fitted.passes,
        // What the passes computed in (`--dtype auto` resolved): float32 or float64.
        "dtype": fitted.model.precision().to_string(),
        "stop_reason": fitted.stop_reason,
        "data": about.description,
        "n_train": about.n_train,
        "n_validation": about.n_validation,
        "n_test": about.n_test,
        "options": fitted.model.training(),
        "class_weight": fitted.model.training()["class_weight"],
        "sample_weight": about.sample_weight,
        "weight_column": about.weight_column,
        "rss_anon_bytes": anonymous_resident_bytes(),
        "processes": softmax::distributed::rank_and_size().1,
    });
    if let Some(top_k) = fitted.top_k {
        let test_top_k = test.zip(test_scored.as_ref()).map(|(test, scored)| {
            let hits = scored.top_k_hits.expect("scored for the top k");
            hits as f64 / test.labels.len() as f64
        });
        let keys = summary.as_object_mut().expect("the summary is an object");
        keys.insert("top_k".into(), json!(top_k.k));
        keys.insert("train_top_k_accuracy".into(), json!(top_k.train));
        keys.insert("val_top_k_accuracy".into(), json!(top_k.validation));
        keys.insert("test_top_k_accuracy".into(), json!(test_top_k));
    }
    Ok(summary)
}

/// This process's anonymous resident memory (`RssAnon` in `/proc/self/status`: what it
/// allocated and touched, not the pages of files it maps), in bytes; `None` where the kernel
/// does not say (not Linux).
fn anonymous_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("RssAnon:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::in_words;

    #[test]
    fn the_summary_in_words_has_every_number_a_person_looks_for() {
        let mut summary = json!({
            "train_accuracy": 0.92652,
            "val_accuracy": 0.93103,
            "test_accuracy": 0.92200,
            "objective": 0.5993640422821045,
            "iterations": 30,
            "seconds": 0.123,
            "model": "out/digits.safetensors",
            "passes": 4.640371229698376,
            "stop_reason": "30 iterations done",
            "data": "scikit-learn digits",
        });
        assert_eq!(
            in_words(&summary),
            "     data  scikit-learn digits\n \
             accuracy  train 0.9265, validation 0.9310, test 0.9220\n\
             objective  0.599364 after 30 iterations (4.64 passes over the data) in 0.12 s\n  \
             stopped  30 iterations done\n    \
             model  saved to out/digits.safetensors"
        );
        let mut with_top_k = summary.clone();
        with_top_k["top_k"] = json!(5);
        with_top_k["train_top_k_accuracy"] = json!(0.99);
        with_top_k["val_top_k_accuracy"] = json!(0.98765);
        with_top_k["test_top_k_accuracy"] = json!(null);
        assert!(
            in_words(&with_top_k).contains(
                "test 0.9220\n    top-5  train 0.9900, validation 0.9877\nobjective  0.599364"
            ),
            "{}",
            in_words(&with_top_k)
        );
        summary["model"] = json!(null);
        summary["val_accuracy"] = json!(null);
        summary["test_accuracy"] = json!(null);
        let words = in_words(&summary);
        assert!(words.contains(" accuracy  train 0.9265\n"), "{words}");
        assert!(words.ends_with("model  not saved (--model PATH saves it)"), "{words}");
    }
}
