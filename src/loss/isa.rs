//! The instruction sets the inner loops are compiled for, and the one place that picks one at
//! run time.
//!
//! A kernel's inner loops implement [`Simd`]: `run::<A>()` for an [`Arch`] `A`, a zero-sized
//! type whose constants say what the instruction set offers (FMA, the width of a vector
//! register). [`dispatch`] calls `run::<Avx512>()`, `run::<Avx2>()` or `run::<Baseline>()`
//! from inside a function compiled with that set's `#[target_feature]`s, so the loops, all
//! `#[inline(always)]`, are compiled once per instruction set and chosen at run time.
//!
//! Soundness: running AVX-512 code on a CPU without it is undefined behaviour. An [`Isa`] can
//! only be obtained from run-time detection ([`Isa::detect`], [`Isa::available`],
//! [`Isa::named`]; its field is private), so holding one proves the CPU has its features, and
//! [`dispatch`] is safe.
//!
//! Why by hand rather than `pulp` or `multiversion`: the loops are plain Rust over lane arrays
//! `[F; L]` whose sizes (lanes, register tiles) are const generics, and their results are fixed
//! bit for bit. `pulp`'s `WithSimd`/`Arch::dispatch` (which this module imitates) would mean
//! rewriting them in pulp's vector types, and neither crate hands a kernel its lane count as a
//! const generic; `multiversion` clones one function per target and cannot force a set for
//! tests and benchmarks. What we need is ~100 lines with two `unsafe` calls.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::{Error, Float, Result};

/// An instruction set of this CPU that the kernels are compiled for.
///
/// Obtained only from run-time detection, so an `Isa` is always one the CPU can run.
///
/// ```
/// use softmax::loss::Isa;
///
/// let best = Isa::detect();
/// assert_eq!(Isa::available()[0], best);
/// assert_eq!(Isa::named("baseline")?.name(), "baseline"); // every CPU has the baseline
/// assert_eq!(best.name().parse::<Isa>()?, best);
/// # Ok::<(), softmax::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Isa(Level);

/// The instruction sets, best first. Private: only detection makes an [`Isa`] of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Level {
    /// x86-64 with AVX-512F, AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// x86-64 with AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// The compilation target's baseline (SSE2 on x86-64, NEON on aarch64).
    Baseline,
}

impl Level {
    /// Every level, best first.
    const ALL: &[Level] = &[
        #[cfg(target_arch = "x86_64")]
        Level::Avx512,
        #[cfg(target_arch = "x86_64")]
        Level::Avx2,
        Level::Baseline,
    ];

    fn name(self) -> &'static str {
        self.constants().0
    }

    /// `(name, FMA, vector bytes)` of the level's [`Arch`].
    fn constants(self) -> (&'static str, bool, usize) {
        fn of<A: Arch>() -> (&'static str, bool, usize) {
            (A::NAME, A::FMA, A::VECTOR_BYTES)
        }
        match self {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => of::<Avx512>(),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => of::<Avx2>(),
            Level::Baseline => of::<Baseline>(),
        }
    }

    /// Whether this CPU has the level's features (asked of the CPU, not cached).
    fn is_supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => Level::Avx2.is_supported() && is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            Level::Baseline => true,
        }
    }
}

impl Isa {
    /// The best instruction set this CPU has (detected once, then cached).
    pub fn detect() -> Isa {
        static BEST: OnceLock<Level> = OnceLock::new();
        let best = BEST.get_or_init(|| {
            *Level::ALL.iter().find(|level| level.is_supported()).expect("the baseline")
        });
        Isa(*best)
    }

    /// Every instruction set this CPU can run, best first (for tests and benchmarks).
    pub fn available() -> Vec<Isa> {
        let best = Level::ALL.iter().position(|&level| level == Isa::detect().0);
        Level::ALL[best.expect("detected levels are listed")..].iter().map(|&l| Isa(l)).collect()
    }

    /// The instruction set called `name` (`avx512`, `avx2` or `baseline`, see [`Isa::name`]).
    ///
    /// # Errors
    /// [`Error::UnsupportedIsa`], listing what the CPU has, if the CPU (or this build's target)
    /// lacks it or no instruction set has that name.
    pub fn named(name: &str) -> Result<Isa> {
        let available = Isa::available();
        match available.iter().find(|isa| isa.name() == name) {
            Some(&isa) => Ok(isa),
            None => Err(Error::UnsupportedIsa {
                requested: name.to_string(),
                available: available.iter().map(|isa| isa.name()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// The name [`Isa::named`] takes: `avx512`, `avx2` or `baseline`.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Whether `mul_add` is one instruction.
    pub fn has_fma(self) -> bool {
        self.0.constants().1
    }

    /// The bytes of one vector register: 64 (AVX-512), 32 (AVX2) or 16 (SSE2, NEON).
    pub fn vector_bytes(self) -> usize {
        self.0.constants().2
    }
}

impl FromStr for Isa {
    type Err = Error;

    fn from_str(name: &str) -> Result<Isa> {
        Isa::named(name)
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an instruction set offers the loops: zero-sized types, one per set, passed as a type
/// parameter so that the loops fold these constants at compile time.
pub trait Arch {
    /// The name of its [`Isa`].
    const NAME: &'static str;
    /// Whether `mul_add` is a single instruction (a fused multiply-add).
    const FMA: bool;
    /// The bytes of one vector register (its lanes: `VECTOR_BYTES / size_of::<F>()`).
    const VECTOR_BYTES: usize;
}

/// x86-64 with AVX-512F (and AVX2, FMA): 32 registers of 64 bytes.
#[cfg(target_arch = "x86_64")]
pub enum Avx512 {}

#[cfg(target_arch = "x86_64")]
impl Arch for Avx512 {
    const NAME: &'static str = "avx512";
    const FMA: bool = true;
    const VECTOR_BYTES: usize = 64;
}

/// x86-64 with AVX2 and FMA: 16 registers of 32 bytes.
#[cfg(target_arch = "x86_64")]
pub enum Avx2 {}

#[cfg(target_arch = "x86_64")]
impl Arch for Avx2 {
    const NAME: &'static str = "avx2";
    const FMA: bool = true;
    const VECTOR_BYTES: usize = 32;
}

/// The target's baseline: SSE2 on x86-64 (no FMA), NEON on aarch64 (with FMA); 16 bytes.
pub enum Baseline {}

impl Arch for Baseline {
    const NAME: &'static str = "baseline";
    const FMA: bool = cfg!(target_arch = "aarch64");
    const VECTOR_BYTES: usize = 16;
}

/// `a·b + c`, fused (one rounding) where the instruction set has FMA.
#[inline(always)]
pub fn fmadd<F: Float, A: Arch>(a: F, b: F, c: F) -> F {
    if A::FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Inner loops compiled once per instruction set (as `pulp`'s `WithSimd`). `run` and everything
/// it calls in its loops must be `#[inline(always)]`, so that they are compiled inside
/// [`dispatch`]'s `#[target_feature]` functions, with those features.
pub trait Simd {
    type Output;

    /// Runs the loops with the instruction set `A`.
    fn run<A: Arch>(self) -> Self::Output;
}

/// Runs `kernel` with the loops compiled for `isa`.
#[inline]
pub fn dispatch<K: Simd>(isa: Isa, kernel: K) -> K::Output {
    match isa.0 {
        // SAFETY: an `Isa` exists only if run-time detection saw its features (`Isa` has a
        // private field, and `Isa::detect`, `Isa::available` and `Isa::named` make only
        // supported levels), so the CPU has AVX-512F, AVX2 and FMA here.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { run_avx512(kernel) },
        // SAFETY: as above, the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { run_avx2(kernel) },
        Level::Baseline => kernel.run::<Baseline>(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn run_avx512<K: Simd>(kernel: K) -> K::Output {
    kernel.run::<Avx512>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2<K: Simd>(kernel: K) -> K::Output {
    kernel.run::<Avx2>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_missing_sets_are_refused() {
        for isa in Isa::available() {
            assert_eq!(Isa::named(isa.name()).unwrap(), isa);
            assert_eq!(isa.to_string().parse::<Isa>().unwrap(), isa);
        }
        assert_eq!(Isa::available().last().unwrap().name(), "baseline");
        let err = Isa::named("sse9").unwrap_err();
        let listed = Isa::available().iter().map(|i| i.name()).collect::<Vec<_>>().join(", ");
        assert!(
            matches!(&err, Error::UnsupportedIsa { requested, available }
                if requested == "sse9" && *available == listed),
            "{err}"
        );
    }

    /// Each level's constants, and detection agreeing with the CPU.
    #[test]
    fn levels_have_their_constants() {
        let baseline = Isa::named("baseline").unwrap();
        assert_eq!(baseline.vector_bytes(), 16);
        assert_eq!(baseline.has_fma(), cfg!(target_arch = "aarch64"));
        #[cfg(target_arch = "x86_64")]
        {
            let avx512 = is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma");
            assert_eq!(Isa::named("avx512").is_ok(), avx512);
            if let Ok(isa) = Isa::named("avx512") {
                assert_eq!((isa.vector_bytes(), isa.has_fma()), (64, true));
            }
            if let Ok(isa) = Isa::named("avx2") {
                assert_eq!((isa.vector_bytes(), isa.has_fma()), (32, true));
            }
        }
    }
}
