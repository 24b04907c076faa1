//! OSV `affected[].ranges` and `affected[].versions` evaluation, per the OSV schema's
//! "Evaluation" pseudocode (ossf/osv-schema `docs/schema.md`).
//!
//! Each `SEMVER` / `ECOSYSTEM` range is a timeline: events sorted by version, `introduced`
//! turns "affected" on, `fixed` (at or above it) and `last_affected` (above it) turn it off;
//! `limit` events bound the range from above (`*` is infinity, none means `*`). `introduced:
//! "0"` sorts before every version. `GIT` ranges are skipped: they name commits, and an
//! installed package carries no commit to place on them (OSV.dev expands them into
//! `versions[]` for exactly this reason). A version listed in `versions[]` is affected; the
//! schema's `v == version` is read as equality under the ecosystem's ordering (PyPI `1.0` is
//! `1.0.0`), falling back to string equality for strings that cannot be ordered.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::{Ecosystem, Scheme, VersionError};

/// The kind of a range (`type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RangeKind {
    Semver,
    Ecosystem,
    Git,
    /// A kind newer than this code; such ranges are skipped.
    #[serde(other)]
    Unknown,
}

/// One event of a range timeline. Exactly one key per JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEvent", into = "RawEvent")]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

#[derive(Serialize, Deserialize, Default)]
struct RawEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<String>,
}

impl TryFrom<RawEvent> for Event {
    type Error = String;

    fn try_from(raw: RawEvent) -> Result<Self, Self::Error> {
        match (raw.introduced, raw.fixed, raw.last_affected, raw.limit) {
            (Some(v), None, None, None) => Ok(Event::Introduced(v)),
            (None, Some(v), None, None) => Ok(Event::Fixed(v)),
            (None, None, Some(v), None) => Ok(Event::LastAffected(v)),
            (None, None, None, Some(v)) => Ok(Event::Limit(v)),
            _ => Err(
                "an event must have exactly one of introduced, fixed, last_affected, limit"
                    .to_owned(),
            ),
        }
    }
}

impl From<Event> for RawEvent {
    fn from(e: Event) -> Self {
        match e {
            Event::Introduced(v) => RawEvent {
                introduced: Some(v),
                ..Default::default()
            },
            Event::Fixed(v) => RawEvent {
                fixed: Some(v),
                ..Default::default()
            },
            Event::LastAffected(v) => RawEvent {
                last_affected: Some(v),
                ..Default::default()
            },
            Event::Limit(v) => RawEvent {
                limit: Some(v),
                ..Default::default()
            },
        }
    }
}

impl Event {
    /// The version string of the event.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// One `affected[].ranges[]` entry. Unknown fields (`database_specific`) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub events: Vec<Event>,
}

/// What an `affected[]` entry says about versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AffectedVersions {
    pub ranges: Vec<Range>,
    pub versions: Vec<String>,
}

/// A position on the timeline: the sentinels `introduced: "0"` and `limit: "*"` are outside
/// every ordering.
#[derive(Clone, Copy)]
enum Point<'a> {
    MinusInfinity,
    At(&'a str),
    PlusInfinity,
}

fn point(event: &Event) -> Point<'_> {
    match event {
        Event::Introduced(v) if v == "0" => Point::MinusInfinity,
        Event::Limit(v) if v == "*" => Point::PlusInfinity,
        e => Point::At(e.version()),
    }
}

fn cmp_points(scheme: Scheme, a: Point<'_>, b: Point<'_>) -> Result<Ordering, VersionError> {
    match (a, b) {
        (Point::MinusInfinity, Point::MinusInfinity)
        | (Point::PlusInfinity, Point::PlusInfinity) => Ok(Ordering::Equal),
        (Point::MinusInfinity, _) | (_, Point::PlusInfinity) => Ok(Ordering::Less),
        (_, Point::MinusInfinity) | (Point::PlusInfinity, _) => Ok(Ordering::Greater),
        (Point::At(x), Point::At(y)) => scheme.compare(x, y),
    }
}

/// Sort events by version; on a tie `introduced` comes first, so an `introduced`/`fixed` pair
/// at one version is an empty range. An insertion sort: ranges are short, and a comparator
/// that can fail must not be handed to `sort_by`.
fn sorted_events(scheme: Scheme, events: &[Event]) -> Result<Vec<&Event>, VersionError> {
    let mut out: Vec<&Event> = Vec::with_capacity(events.len());
    for event in events {
        let mut at = out.len();
        while at > 0 {
            let prev = out[at - 1];
            let ord = cmp_points(scheme, point(prev), point(event))?;
            let prev_goes_after = ord == Ordering::Greater
                || (ord == Ordering::Equal
                    && matches!(event, Event::Introduced(_))
                    && !matches!(prev, Event::Introduced(_)));
            if !prev_goes_after {
                break;
            }
            at -= 1;
        }
        out.insert(at, event);
    }
    Ok(out)
}

/// Whether `version` lies in `range` (a `SEMVER` or `ECOSYSTEM` range under `scheme`).
fn in_range(scheme: Scheme, version: &str, range: &Range) -> Result<bool, VersionError> {
    let v = Point::At(version);
    let limits: Vec<&Event> = range
        .events
        .iter()
        .filter(|e| matches!(e, Event::Limit(_)))
        .collect();
    if !limits.is_empty() {
        let mut before_any = false;
        for limit in limits {
            if cmp_points(scheme, v, point(limit))? == Ordering::Less {
                before_any = true;
                break;
            }
        }
        if !before_any {
            return Ok(false);
        }
    }
    let mut affected = false;
    for event in sorted_events(scheme, &range.events)? {
        let ord = cmp_points(scheme, v, point(event))?;
        match event {
            Event::Introduced(_) if ord != Ordering::Less => affected = true,
            Event::Fixed(_) if ord != Ordering::Less => affected = false,
            Event::LastAffected(_) if ord == Ordering::Greater => affected = false,
            _ => {}
        }
    }
    Ok(affected)
}

/// The ordering a range of `kind` uses for a package in `ecosystem`; `None` for ranges that
/// cannot place a version (`GIT`, unknown kinds).
///
/// `SEMVER` ranges are SemVer whatever the ecosystem, except that Go's accept the toolchain
/// spellings of the `stdlib` module (`go1.21rc2`), which SemVer proper would reject.
pub fn range_scheme(ecosystem: Ecosystem, kind: &RangeKind) -> Option<Scheme> {
    match kind {
        RangeKind::Ecosystem => Some(ecosystem.scheme()),
        RangeKind::Semver if ecosystem == Ecosystem::Go => Some(Scheme::Go),
        RangeKind::Semver => Some(Scheme::SemVer),
        RangeKind::Git | RangeKind::Unknown => None,
    }
}

/// Evaluate `affected` for `version` of a package in `ecosystem`, reporting the first version
/// string (installed or from the advisory) that cannot be ordered.
pub fn check_affected(
    ecosystem: Ecosystem,
    version: &str,
    affected: &AffectedVersions,
) -> Result<bool, VersionError> {
    check_ranges(ecosystem, version, &affected.ranges, &affected.versions)
}

/// [`check_affected`] over borrowed parts, for callers that hold an OSV `affected[]` entry.
pub fn check_ranges(
    ecosystem: Ecosystem,
    version: &str,
    ranges: &[Range],
    versions: &[String],
) -> Result<bool, VersionError> {
    let mut first_error = None;
    for listed in versions {
        match ecosystem.scheme().compare(version, listed) {
            Ok(Ordering::Equal) => return Ok(true),
            Ok(_) => {}
            // An unorderable string still matches itself.
            Err(_) if listed == version => return Ok(true),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    for range in ranges {
        let Some(scheme) = range_scheme(ecosystem, &range.kind) else {
            continue;
        };
        match in_range(scheme, version, range) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(false),
    }
}

/// [`check_affected`] for callers that only need the answer: a version that cannot be
/// ordered against a range does not match it.
pub fn is_affected(ecosystem: Ecosystem, version: &str, affected: &AffectedVersions) -> bool {
    check_affected(ecosystem, version, affected).unwrap_or(false)
}
