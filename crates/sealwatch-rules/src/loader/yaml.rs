//! A small YAML document tree with source positions, built from `saphyr-parser` events.
//!
//! Falco reads rules with yaml-cpp, which treats every scalar as a string and converts on demand;
//! this tree keeps scalars as text (plus whether they were quoted) so the loader can do the same,
//! and keeps a 1-based line/column for every node so each diagnostic can point at its place.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// A 1-based line and column in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    /// A scalar's text; `plain` is false for quoted and block scalars (which are never null).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error with its place.
#[derive(Debug, Clone)]
pub(crate) struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// Aliases can multiply a small document into a huge tree ("billion laughs"); past this many
/// nodes the document is rejected.
const MAX_NODES: usize = 2_000_000;

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value for `key` in a map (keys compared as scalar text).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_scalar() == Some(key))
            .map(|(_, v)| v)
    }
}

fn pos_of(span: &Span) -> Pos {
    let line = u32::try_from(span.start.line()).unwrap_or(u32::MAX);
    let column = u32::try_from(span.start.col().saturating_add(1)).unwrap_or(u32::MAX);
    Pos { line, column }
}

enum Frame {
    Seq(Pos, usize, Vec<Node>),
    Map(Pos, usize, Vec<(Node, Node)>, Option<Node>),
}

/// Parse a YAML stream into its documents, with yaml-cpp's leniency about the closing bracket of
/// a flow collection: upstream Falco files close `items: [` with a `]` at the key's own
/// indentation, which YAML 1.2 (and so saphyr) rejects but yaml-cpp accepts. When the strict parse
/// fails on a line holding only closing brackets, that line is indented further and the parse is
/// retried. Only such lines change, so every other position stays exact; documents that parse
/// strictly are never touched.
pub(crate) fn parse_stream(text: &str) -> Result<Vec<Option<Node>>, YamlError> {
    const MAX_FIXES: usize = 256;
    let mut current = std::borrow::Cow::Borrowed(text);
    for _ in 0..MAX_FIXES {
        match parse_stream_strict(&current) {
            Err(err) if err.message == "invalid indentation" => {
                let Some(fixed) = indent_bracket_line(&current, err.pos.line) else {
                    return Err(err);
                };
                current = std::borrow::Cow::Owned(fixed);
            }
            other => return other,
        }
    }
    parse_stream_strict(&current)
}

/// Indent line `line` (1-based) by two more spaces if it holds only closing flow brackets
/// (optionally followed by a comment).
fn indent_bracket_line(text: &str, line: u32) -> Option<String> {
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let mut out = String::with_capacity(text.len() + 2);
    let mut changed = false;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i == index {
            let body = l.trim_start_matches(' ');
            let content = body.split('#').next().unwrap_or("").trim();
            if !content.is_empty() && content.chars().all(|c| matches!(c, ']' | '}' | ',' | ' ')) {
                out.push_str("  ");
                changed = true;
            }
        }
        out.push_str(l);
    }
    changed.then_some(out)
}

fn parse_stream_strict(text: &str) -> Result<Vec<Option<Node>>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut current_doc: Option<Node> = None;
    let mut nodes = 0usize;

    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(pair)) => pair,
            Some(Err(err)) => {
                let mark = err.marker();
                return Err(YamlError {
                    pos: Pos {
                        line: u32::try_from(mark.line()).unwrap_or(u32::MAX),
                        column: u32::try_from(mark.col().saturating_add(1)).unwrap_or(u32::MAX),
                    },
                    message: err.info().to_string(),
                });
            }
        };
        let pos = pos_of(&span);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart => None,
            Event::DocumentStart(_) => {
                current_doc = None;
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                docs.push(current_doc.take());
                None
            }
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    pos,
                    message: "alias refers to an unknown anchor".to_string(),
                })?;
                nodes = nodes.saturating_add(count_nodes(&node));
                Some((node, 0))
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = matches!(style, ScalarStyle::Plain);
                Some((
                    Node {
                        pos,
                        kind: NodeKind::Scalar {
                            text: text.into_owned(),
                            plain,
                        },
                    },
                    anchor,
                ))
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(pos, anchor, Vec::new()));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(pos, anchor, Vec::new(), None));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(p, anchor, items)) => Some((
                    Node {
                        pos: p,
                        kind: NodeKind::Seq(items),
                    },
                    anchor,
                )),
                _ => {
                    return Err(YamlError {
                        pos,
                        message: "unbalanced sequence end".to_string(),
                    })
                }
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(p, anchor, entries, _)) => Some((
                    Node {
                        pos: p,
                        kind: NodeKind::Map(entries),
                    },
                    anchor,
                )),
                _ => {
                    return Err(YamlError {
                        pos,
                        message: "unbalanced mapping end".to_string(),
                    })
                }
            },
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        nodes = nodes.saturating_add(1);
        if nodes > MAX_NODES {
            return Err(YamlError {
                pos,
                message: format!("document has more than {MAX_NODES} nodes"),
            });
        }
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => current_doc = Some(node),
            Some(Frame::Seq(_, _, items)) => items.push(node),
            Some(Frame::Map(_, _, entries, pending_key)) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
    Ok(docs)
}

fn count_nodes(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar { .. } => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_point_at_the_node() {
        let docs = parse_stream("- rule: a\n  priority: x\n").unwrap_or_default();
        let Some(Some(doc)) = docs.first() else {
            panic!("no document: {docs:?}")
        };
        let item = &doc.as_seq().unwrap_or_default()[0];
        assert_eq!(item.pos, Pos { line: 1, column: 3 });
        let prio = item.get("priority").map(|n| n.pos);
        assert_eq!(
            prio,
            Some(Pos {
                line: 2,
                column: 13
            })
        );
    }

    #[test]
    fn closing_bracket_at_the_key_indentation_is_accepted_like_yaml_cpp() {
        let docs =
            parse_stream("- list: a\n  items: [\n    x,\n    y\n  ]\n- list: b\n  items: []\n")
                .unwrap_or_default();
        let Some(Some(doc)) = docs.first() else {
            panic!("no document")
        };
        let items = doc
            .as_seq()
            .and_then(|s| s.first())
            .and_then(|i| i.get("items"))
            .and_then(Node::as_seq);
        assert_eq!(items.map(<[Node]>::len), Some(2));
        assert_eq!(
            doc.as_seq().and_then(|s| s.get(1)).map(|n| n.pos),
            Some(Pos { line: 6, column: 3 })
        );
    }

    #[test]
    fn syntax_error_has_a_place() {
        let err = parse_stream("- a: [1, 2\n- b").err().map(|e| e.pos.line);
        assert!(matches!(err, Some(l) if l >= 1), "{err:?}");
    }

    #[test]
    fn quoted_empty_is_not_null_and_aliases_expand() {
        let docs = parse_stream("a: ''\nb: ~\nc: &x [1]\nd: *x\n").unwrap_or_default();
        let Some(Some(doc)) = docs.first() else {
            panic!()
        };
        assert!(!doc.get("a").is_some_and(Node::is_null));
        assert!(doc.get("b").is_some_and(Node::is_null));
        assert_eq!(
            doc.get("d").and_then(Node::as_seq).map(<[Node]>::len),
            Some(1)
        );
    }
}
