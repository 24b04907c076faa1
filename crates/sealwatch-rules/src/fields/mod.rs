//! The field catalogue (names and libsinsp types of the syscall and container-plugin fields)
//! and extraction of field values from an [`Event`](crate::event::Event).
//!
//! The types and flags come from libsinsp's field tables, so the compiler's operator × type
//! checks give the same answers as libsinsp. Fields that are known but not backed by our event
//! model resolve (so conditions using them compile) and never extract.

mod catalogue;
mod extract;

pub use catalogue::{all, lookup, FieldId, FieldInfo, FieldType};
pub use extract::{extract, extract_with, FieldValue, IpNet};
pub(crate) use extract::{is_multi_valued, single_value};

use crate::condition::FieldRef;

/// Flags of a field (libsinsp `EPF_*`).
pub mod flags {
    pub const NONE: u16 = 0;
    /// The field needs an argument (`evt.arg.flags`, `evt.arg[0]`).
    pub const ARG_REQUIRED: u16 = 1 << 0;
    /// The field takes an optional argument (`proc.aname[2]`).
    pub const ARG_ALLOWED: u16 = 1 << 1;
    /// Not allowed on the right-hand side (`val()`).
    pub const NO_RHS: u16 = 1 << 2;
    /// Transformers cannot be applied to it.
    pub const NO_TRANSFORMER: u16 = 1 << 3;
    /// The field extracts a list of values.
    pub const IS_LIST: u16 = 1 << 4;
    /// Usable in filters only, not in outputs.
    pub const FILTER_ONLY: u16 = 1 << 5;
    /// Usable in outputs only.
    pub const PRINT_ONLY: u16 = 1 << 6;
    pub const DEPRECATED: u16 = 1 << 7;
    pub const TABLE_ONLY: u16 = 1 << 8;
    /// The argument may be written after a dot (`evt.arg.flags`).
    pub const DOTTED_ARG: u16 = 1 << 9;
}

/// A field argument after resolution.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldArg {
    None,
    /// A numeric argument (`proc.aname[2]`, `evt.arg[0]`).
    Index(usize),
    /// A name argument (`evt.arg.flags`, `proc.env[HOME]`, `container.mount.dest[/proc*]`).
    Key(String),
}

/// A field resolved against the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedField {
    pub info: &'static FieldInfo,
    pub arg: FieldArg,
}

impl ResolvedField {
    /// The field as Falco names it (`proc.aname[2]`, `evt.arg.flags`).
    pub fn display_name(&self) -> String {
        match &self.arg {
            FieldArg::None => self.info.name.to_owned(),
            FieldArg::Index(i) => format!("{}[{}]", self.info.name, i),
            FieldArg::Key(k) => format!("{}[{}]", self.info.name, k),
        }
    }
}

/// Why a field reference does not resolve. Messages follow libsinsp's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    #[error("filter_check called with nonexistent field {0}")]
    Unknown(String),
    #[error("filter error: can't parse field expression '{0}'")]
    BadArgument(String),
    #[error("filter error: field '{0}' requires an argument")]
    MissingArgument(String),
}

/// Resolves a field name and optional bracket argument: `("proc.aname", Some("2"))`,
/// `("evt.arg.flags", None)`.
pub fn resolve(name: &str, arg: Option<&str>) -> Result<ResolvedField, FieldError> {
    let full = || match arg {
        Some(a) => format!("{name}[{a}]"),
        None => name.to_owned(),
    };
    let (info, dotted) =
        catalogue::lookup_with_suffix(name).ok_or_else(|| FieldError::Unknown(full()))?;
    let raw_arg = match (dotted, arg) {
        (Some(_), Some(_)) => return Err(FieldError::BadArgument(full())),
        (Some(d), None) => Some(d),
        (None, a) => a,
    };
    let takes_arg = info.flags & (flags::ARG_REQUIRED | flags::ARG_ALLOWED) != 0;
    let arg = match raw_arg {
        None if info.flags & flags::ARG_REQUIRED != 0 => {
            return Err(FieldError::MissingArgument(full()))
        }
        None => FieldArg::None,
        Some(_) if !takes_arg => return Err(FieldError::BadArgument(full())),
        Some(a) if info.numeric_arg() => match a.parse::<usize>() {
            Ok(n) => FieldArg::Index(n),
            Err(_) => return Err(FieldError::BadArgument(full())),
        },
        Some(a) if info.index_or_key_arg() => match a.parse::<usize>() {
            Ok(n) => FieldArg::Index(n),
            Err(_) => FieldArg::Key(a.to_owned()),
        },
        Some(a) => FieldArg::Key(a.to_owned()),
    };
    Ok(ResolvedField { info, arg })
}

/// Resolves a field reference from a condition.
pub fn resolve_ref(field: &FieldRef) -> Result<ResolvedField, FieldError> {
    resolve(&field.name, field.arg.as_deref())
}
