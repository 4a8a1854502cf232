//! Option enums that have a command-line name (`softmax`, `half`, `fused`, ...).
//!
//! One macro gives each such enum the same three things: `ALL`, `name()` and parsing from that
//! name, so the library, the command line and the JSON output spell every choice alike.

/// Declares an enum whose variants have one lowercase name each, with `ALL`, `name`,
/// `Display` and `FromStr` (the error lists the valid names).
macro_rules! named_enum {
    (
        $what:literal,
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used on the command line and in JSON output.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;

            fn from_str(text: &str) -> $crate::Result<Self> {
                Self::ALL.iter().copied().find(|v| v.name() == text).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
                    $crate::Error::InvalidOption(format!(
                        "unknown {} '{}': expected one of {}",
                        $what, text, names.join(", ")
                    ))
                })
            }
        }
    };
}

pub(crate) use named_enum;
