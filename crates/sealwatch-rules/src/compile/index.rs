//! Rules bucketed by event type, so an event only meets the rules that can match it.

use super::{eval, CompiledFilter, Node};
use crate::event::{Event, EventType, MAX_EVENT_TYPES};

/// The caller's identifier of a rule (its index in load order).
pub type RuleId = usize;

/// Compiled rules indexed by event type. Rules keep their insertion order inside each bucket,
/// so `first` matching (Falco's default) is the first rule in definition order.
///
/// Each bucket holds the rule's condition specialised for that event type (`evt.type` checks
/// folded to constants), which is what makes the per-event work small.
#[derive(Debug, Default)]
pub struct RuleIndex {
    rules: Vec<(RuleId, CompiledFilter)>,
    /// For each event type, (rule id, specialised condition) in insertion order.
    buckets: Vec<Vec<(RuleId, Node)>>,
}

impl RuleIndex {
    pub fn new() -> RuleIndex {
        RuleIndex {
            rules: Vec::new(),
            buckets: vec![Vec::new(); MAX_EVENT_TYPES],
        }
    }

    /// Adds a rule; it is evaluated only for the event types its condition can match.
    pub fn add(&mut self, id: RuleId, filter: CompiledFilter) {
        for t in filter.event_types().iter() {
            let node = filter.specialized(t);
            if matches!(node, Node::Const(false)) {
                continue;
            }
            if let Some(b) = self.buckets.get_mut(t.index()) {
                b.push((id, node));
            }
        }
        self.rules.push((id, filter));
    }

    /// The rules added, in order.
    pub fn rules(&self) -> impl Iterator<Item = (RuleId, &CompiledFilter)> {
        self.rules.iter().map(|(id, f)| (*id, f))
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// How many rules an event of type `t` is evaluated against.
    pub fn candidates(&self, t: EventType) -> usize {
        self.buckets.get(t.index()).map_or(0, Vec::len)
    }

    /// Calls `on_match` for every rule matching `event`, in insertion order. Returns the
    /// number of matches. Allocates nothing.
    pub fn evaluate(&self, event: &Event, on_match: &mut impl FnMut(RuleId)) -> usize {
        let mut n = 0;
        if let Some(bucket) = self.buckets.get(event.event_type.index()) {
            for (id, node) in bucket {
                if eval::node(node, event) {
                    n += 1;
                    on_match(*id);
                }
            }
        }
        n
    }

    /// The first matching rule (Falco's `rule_matching: first`).
    pub fn first_match(&self, event: &Event) -> Option<RuleId> {
        let bucket = self.buckets.get(event.event_type.index())?;
        bucket
            .iter()
            .find(|(_, node)| eval::node(node, event))
            .map(|(id, _)| *id)
    }
}
