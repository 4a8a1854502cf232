//! [`DataSpec`]: the `--data` argument, parsed.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::Error;

/// A data source, as written on the command line (`--data`):
///
/// | spec | source |
/// |---|---|
/// | `digits` | scikit-learn's 8×8 digits, embedded in the binary |
/// | `mnist:DIR` | MNIST or Fashion-MNIST IDX files (plain or `.gz`) in DIR |
/// | `cifar10:DIR` | CIFAR-10's binary batches in DIR |
/// | `csv:PATH` | a `.csv` or `.csv.gz` file |
/// | `libsvm:PATH` | an svmlight / libsvm text file (or `.gz`) |
/// | `npy:X.npy,y.npy` | a float matrix and an integer label vector (the first comma separates them) |
/// | `npz:PATH` | a NumPy `.npz` archive |
///
/// `Display` writes the same form back.
///
/// ```
/// use softmax::data::DataSpec;
///
/// let spec: DataSpec = "npy:X.npy,y.npy".parse()?;
/// assert_eq!(spec, DataSpec::Npy { inputs: "X.npy".into(), labels: "y.npy".into() });
/// assert_eq!(spec.to_string(), "npy:X.npy,y.npy");
/// # Ok::<(), softmax::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSpec {
    Digits,
    Mnist(PathBuf),
    Cifar10(PathBuf),
    Csv(PathBuf),
    Libsvm(PathBuf),
    Npy { inputs: PathBuf, labels: PathBuf },
    Npz(PathBuf),
}

/// The accepted forms, for error messages.
const FORMS: &str =
    "digits, mnist:DIR, cifar10:DIR, csv:PATH, libsvm:PATH, npy:X.npy,y.npy, npz:PATH";

impl FromStr for DataSpec {
    type Err = Error;

    /// Parses one of the forms in the type's doc.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] listing the valid forms, for an unknown kind or an empty path.
    fn from_str(text: &str) -> crate::Result<Self> {
        let invalid = |why: &str| {
            Error::InvalidOption(format!("data source '{text}' {why}: expected one of {FORMS}"))
        };
        if text == "digits" {
            return Ok(DataSpec::Digits);
        }
        let (kind, path) = text.split_once(':').ok_or_else(|| invalid("is not recognized"))?;
        if path.is_empty() {
            return Err(invalid("has no path"));
        }
        match kind {
            "mnist" => Ok(DataSpec::Mnist(path.into())),
            "cifar10" => Ok(DataSpec::Cifar10(path.into())),
            "csv" => Ok(DataSpec::Csv(path.into())),
            "libsvm" => Ok(DataSpec::Libsvm(path.into())),
            "npz" => Ok(DataSpec::Npz(path.into())),
            "npy" => match path.split_once(',') {
                Some((inputs, labels)) if !inputs.is_empty() && !labels.is_empty() => {
                    Ok(DataSpec::Npy { inputs: inputs.into(), labels: labels.into() })
                }
                _ => Err(invalid("needs two paths separated by a comma")),
            },
            _ => Err(invalid(&format!("has an unknown kind '{kind}'"))),
        }
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSpec::Digits => f.write_str("digits"),
            DataSpec::Mnist(dir) => write!(f, "mnist:{}", dir.display()),
            DataSpec::Cifar10(dir) => write!(f, "cifar10:{}", dir.display()),
            DataSpec::Csv(path) => write!(f, "csv:{}", path.display()),
            DataSpec::Libsvm(path) => write!(f, "libsvm:{}", path.display()),
            DataSpec::Npy { inputs, labels } => {
                write!(f, "npy:{},{}", inputs.display(), labels.display())
            }
            DataSpec::Npz(path) => write!(f, "npz:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_round_trips() {
        for text in [
            "digits",
            "mnist:data/mnist",
            "cifar10:/tmp/cifar-10-batches-bin",
            "csv:train.csv.gz",
            "libsvm:a9a.txt",
            "npy:X.npy,y.npy",
            "npz:mnist.npz",
        ] {
            let spec: DataSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
    }

    #[test]
    fn unknown_forms_list_the_valid_ones() {
        for text in ["mnist", "svhn:dir", "csv:", "npy:X.npy", "npy:,y.npy", "Digits"] {
            let error = text.parse::<DataSpec>().unwrap_err();
            assert!(matches!(error, Error::InvalidOption(_)), "{text}");
            assert!(error.to_string().contains("npy:X.npy,y.npy"), "{error}");
        }
    }
}
