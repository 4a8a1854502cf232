//! The integration tests, in one binary so that the crate is linked once: each module tests one
//! part through the public API or the `softmax` command, as a user would.

mod bench_probe;
mod cli;
mod cli_train;
mod common;
mod data_loaders;
#[cfg(feature = "mpi")]
mod distributed;
mod kernels_agree;
mod label_smoothing;
mod library_errors;
mod mapped_inputs;
mod model;
mod plots;
mod preconditioning;
mod reference_values;
mod reg_sweep;
mod sample_weights;
mod sparse_kernel;
mod top_k;
mod training;
mod weighted_training;
