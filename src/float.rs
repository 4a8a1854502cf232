//! The floating-point types the kernels are generic over: `f32` and `f64`.

use std::fmt::{Debug, Display};
use std::iter::Sum;

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::{Float as NumFloat, FromPrimitive, NumAssign};

/// A floating-point element type for weights, inputs and gradients (`f32` or `f64`).
///
/// The bounds collect what the kernels need: IEEE arithmetic and `exp`/`ln`
/// (`num_traits::Float`), matrix products (`ndarray::LinalgScalar`), scalar
/// broadcasting (`ScalarOperand`), and `Send + Sync` for the parallel kernel.
pub trait Float:
    NumFloat
    + NumAssign
    + FromPrimitive
    + LinalgScalar
    + ScalarOperand
    + Sum
    + Send
    + Sync
    + Debug
    + Display
    + bytemuck::Pod
    + 'static
{
    /// The NumPy name of the type, as `.npy` headers and our JSON output spell it.
    const DTYPE_NAME: &'static str;

    /// Converts an `f64` (a regularization strength, a step size) to this type.
    fn of(value: f64) -> Self {
        <Self as FromPrimitive>::from_f64(value).expect("every f64 converts to f32 or f64")
    }

    /// This value as an `f64`, for reports.
    fn as_f64(self) -> f64 {
        self.to_f64().expect("f32 and f64 convert to f64")
    }

    /// e^x within a few ulps for e^x a normal number, in plain arithmetic that vectorizes
    /// (the `exp_polynomial!` macro below).
    fn exp_fast(self) -> Self;

    /// Converts float16 values (a memory-mapped `.npy` file's) into this type, exactly, with
    /// the CPU's conversion instructions where it has them (`half`'s slice conversions).
    fn from_f16s(values: &[half::f16], out: &mut [Self]);
}

/// e^x by range reduction and a polynomial, in plain arithmetic that LLVM vectorizes (a
/// softmax row's exponentials become a few vector instructions instead of a libm call each).
///
/// x = k·ln 2 + r with k = round(x / ln 2) and |r| ≤ ln 2 / 2, so e^x = 2^k · e^r: k is rounded
/// by adding and subtracting 1.5·2^(mantissa bits) (which also leaves k in the sum's low bits),
/// r = x − k·ln2_hi − k·ln2_lo (ln 2 split so that k·ln2_hi is exact), e^r is its Taylor
/// polynomial to degree `terms − 1` (remainder below half an ulp), and 2^k is built in the
/// exponent bits. x is clamped to the range whose results are normal numbers: below it the
/// result is the smallest such power (e^x < 1e-37 in f32, 1e-307 in f64, where a softmax
/// probability is 0 to any tolerance), above it a finite huge value (a softmax never asks: its
/// x = f_j − max f ≤ 0).
macro_rules! exp_polynomial {
    ($x:expr, $float:ty, $bits:ty, $mantissa_bits:expr, $bias:expr, $lowest:expr, $highest:expr,
     $ln2_hi:expr, $ln2_lo:expr, $terms:expr) => {{
        let x: $float = $x.clamp($lowest, $highest);
        let shift: $float = 1.5 * (1u64 << $mantissa_bits) as $float;
        let k_shifted = x * std::f64::consts::LOG2_E as $float + shift;
        let k = k_shifted - shift;
        let r = (x - k * $ln2_hi) - k * $ln2_lo;
        // Σ r^n / n! by Horner's rule, from the highest term (the coefficients fold to constants).
        let mut inverse_factorial: [$float; $terms] = [1.0; $terms];
        for n in 1..$terms {
            inverse_factorial[n] = inverse_factorial[n - 1] / n as $float;
        }
        let mut poly = inverse_factorial[$terms - 1];
        for n in (0..$terms - 1).rev() {
            poly = poly * r + inverse_factorial[n];
        }
        let k_int = k_shifted.to_bits().wrapping_sub(shift.to_bits()); // k, two's complement
        let scale = <$float>::from_bits(k_int.wrapping_add($bias) << $mantissa_bits);
        poly * scale
    }};
}

impl Float for f32 {
    const DTYPE_NAME: &'static str = "float32";

    fn from_f16s(values: &[half::f16], out: &mut [f32]) {
        half::slice::HalfFloatSliceExt::convert_to_f32_slice(values, out);
    }

    #[inline(always)]
    fn exp_fast(self) -> f32 {
        exp_polynomial!(self, f32, u32, 23, 127u32, -87.3, 88.0, 355.0 / 512.0, -2.121_944_4e-4, 8)
    }
}

impl Float for f64 {
    const DTYPE_NAME: &'static str = "float64";

    fn from_f16s(values: &[half::f16], out: &mut [f64]) {
        half::slice::HalfFloatSliceExt::convert_to_f64_slice(values, out);
    }

    #[inline(always)]
    fn exp_fast(self) -> f64 {
        exp_polynomial!(
            self,
            f64,
            u64,
            52,
            1023u64,
            -708.0,
            709.0,
            0.693_147_180_369_123_8,
            1.908_214_929_270_587_7e-10,
            14
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Float;

    /// The largest relative difference between `exp_fast` and the standard library's `exp` over
    /// a fine grid of [lowest, highest].
    fn worst_relative_error<F: Float>(lowest: f64, highest: f64) -> f64 {
        let steps = 200_000;
        (0..=steps)
            .map(|i| F::of(lowest + (highest - lowest) * i as f64 / steps as f64))
            .map(|x| {
                let (fast, exact) = (x.exp_fast().as_f64(), x.as_f64().exp());
                (fast - exact).abs() / exact
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn exp_fast_is_within_a_few_ulps_where_results_are_normal() {
        // The error is measured against f64's exp of the same input, so in f32 it includes
        // nothing from rounding the input.
        assert!(worst_relative_error::<f32>(-87.0, 88.0) < 4.0 * f32::EPSILON as f64);
        assert!(worst_relative_error::<f64>(-708.0, 709.0) < 4.0 * f64::EPSILON);
    }

    #[test]
    fn exp_fast_is_one_at_zero_and_tiny_far_below() {
        assert_eq!(0f32.exp_fast(), 1.0);
        assert_eq!(0f64.exp_fast(), 1.0);
        for x in [-88.0f32, -120.0, -1000.0, -1e30, f32::MIN] {
            assert!((0.0..1e-37).contains(&x.exp_fast()), "{x}: {}", x.exp_fast());
        }
        for x in [-709.0, -800.0, -1e4, -1e300, f64::MIN] {
            assert!((0.0..1e-307).contains(&x.exp_fast()), "{x}: {}", x.exp_fast());
        }
    }
}
