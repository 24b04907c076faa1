//! A YAML tree that remembers where every node came from.
//!
//! `yaml-rust2`'s own `Yaml` type drops positions, and diagnostics need file:line:column for every
//! field, so this module builds its own tree from the parser's marked event stream.

use std::collections::BTreeMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_marker(mark: Marker) -> Self {
        // yaml-rust2 0.13 reports 1-based lines and 0-based columns.
        Pos {
            line: mark.line(),
            column: mark.col() + 1,
        }
    }
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: NodeValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// A scalar; `quoted` is true for quoted and block scalars, which are always strings.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys are kept as nodes so that diagnostics about keys point at the key.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar text of a node, if it is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// True for `~`, `null`, an empty plain scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, NodeValue::Scalar { text, quoted: false }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A short name of the node's type for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            NodeValue::Scalar { .. } if self.is_null() => "null",
            NodeValue::Scalar { .. } => match self.to_json() {
                serde_json::Value::Bool(_) => "boolean",
                serde_json::Value::Number(_) => "number",
                _ => "string",
            },
            NodeValue::Seq(_) => "list",
            NodeValue::Map(_) => "mapping",
        }
    }

    /// Converts to JSON with the YAML 1.2 core schema for plain scalars.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            NodeValue::Scalar { text, quoted } => {
                if *quoted {
                    serde_json::Value::String(text.clone())
                } else {
                    plain_scalar_to_json(text)
                }
            }
            NodeValue::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            NodeValue::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (key, value) in entries {
                    let key = match key.as_scalar() {
                        Some(text) => text.to_owned(),
                        None => key.to_json().to_string(),
                    };
                    map.insert(key, value.to_json());
                }
                serde_json::Value::Object(map)
            }
        }
    }
}

fn plain_scalar_to_json(text: &str) -> serde_json::Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return serde_json::Value::Null,
        "true" | "True" | "TRUE" => return serde_json::Value::Bool(true),
        "false" | "False" | "FALSE" => return serde_json::Value::Bool(false),
        _ => {}
    }
    if let Ok(int) = text.parse::<i64>() {
        return serde_json::Value::from(int);
    }
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if looks_numeric {
        if let Ok(float) = text.parse::<f64>() {
            if let Some(number) = serde_json::Number::from_f64(float) {
                return serde_json::Value::Number(number);
            }
        }
    }
    serde_json::Value::String(text.to_owned())
}

/// A document of a multi-document stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub root: Node,
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Upper bound on nodes created by alias expansion, so that a "billion laughs" stream is an
/// error instead of an out-of-memory kill.
const MAX_NODES: usize = 1_000_000;

/// Upper bound on nesting, so that recursive walks (and dropping the tree) cannot overflow
/// the stack on hostile input. Kubernetes objects nest a few dozen levels at most.
const MAX_DEPTH: usize = 200;

#[derive(Default)]
struct TreeBuilder {
    documents: Vec<Document>,
    stack: Vec<Partial>,
    anchors: BTreeMap<usize, Node>,
    node_count: usize,
    error: Option<SyntaxError>,
}

enum Partial {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
    },
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        NodeValue::Scalar { .. } => 1,
        NodeValue::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeValue::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
    }
}

impl TreeBuilder {
    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(Document { root: node }),
            Some(Partial::Seq { items, .. }) => items.push(node),
            Some(Partial::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = Pos::from_marker(mark);
        let opens = matches!(event, Event::SequenceStart(..) | Event::MappingStart(..));
        if opens && self.stack.len() >= MAX_DEPTH {
            self.error = Some(SyntaxError {
                pos,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
            return;
        }
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                self.node_count += 1;
                let quoted = !matches!(style, TScalarStyle::Plain);
                self.push_node(
                    Node {
                        pos,
                        value: NodeValue::Scalar { text, quoted },
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _tag) => {
                self.node_count += 1;
                self.stack.push(Partial::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, _tag) => {
                self.node_count += 1;
                self.stack.push(Partial::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Partial::Seq { pos, anchor, items }) => (
                        Node {
                            pos,
                            value: NodeValue::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Partial::Map {
                        pos,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            // yaml-rust2 marks a block mapping where its first value starts;
                            // the first key is where a reader looks for the mapping.
                            pos: entries.first().map_or(pos, |(key, _)| key.pos),
                            value: NodeValue::Map(entries),
                        },
                        anchor,
                    ),
                    None => return,
                };
                self.push_node(node, anchor);
            }
            Event::Alias(anchor) => match self.anchors.get(&anchor).cloned() {
                Some(mut node) => {
                    self.node_count += count_nodes(&node);
                    if self.node_count > MAX_NODES {
                        self.error = Some(SyntaxError {
                            pos,
                            message: format!(
                                "alias expansion exceeds {MAX_NODES} nodes; refusing to expand"
                            ),
                        });
                        return;
                    }
                    node.pos = pos;
                    self.push_node(node, 0);
                }
                None => {
                    self.error = Some(SyntaxError {
                        pos,
                        message: "alias refers to an unknown anchor".to_owned(),
                    });
                }
            },
            Event::DocumentStart => self.anchors.clear(),
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

/// Parses a (multi-document) YAML stream. Documents parsed before a syntax error are returned
/// together with the error, so that a loader can still report on them.
pub fn parse_stream(text: &str) -> (Vec<Document>, Option<SyntaxError>) {
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(text);
    let result = parser.load(&mut builder, true);
    let mut error = builder.error.take();
    if let Err(scan_error) = result {
        if error.is_none() {
            error = Some(SyntaxError {
                pos: Pos::from_marker(*scan_error.marker()),
                message: scan_error.info().to_owned(),
            });
        }
    }
    (builder.documents, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_line_and_column() {
        let (docs, err) = parse_stream("a: 1\nbb:\n  - x\n");
        assert!(err.is_none());
        let Some(doc) = docs.first() else {
            panic!("no document")
        };
        let NodeValue::Map(entries) = &doc.root.value else {
            panic!("not a map")
        };
        let positions: Vec<Pos> = entries.iter().map(|(k, _)| k.pos).collect();
        assert_eq!(
            positions,
            vec![Pos { line: 1, column: 1 }, Pos { line: 2, column: 1 }]
        );
        let NodeValue::Seq(items) = &entries[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(items[0].pos, Pos { line: 3, column: 5 });
    }

    #[test]
    fn scalars_follow_the_core_schema_unless_quoted() {
        let (docs, _) = parse_stream("[1, '1', true, \"true\", ~, 1.5, abc, 0x1]");
        let json = docs[0].root.to_json();
        assert_eq!(
            json,
            serde_json::json!([1, "1", true, "true", null, 1.5, "abc", "0x1"])
        );
    }

    #[test]
    fn multi_document_streams_and_syntax_errors() {
        let (docs, err) = parse_stream("a: 1\n---\nb: 2\n---\nc: [\n");
        assert_eq!(docs.len(), 2);
        let err = err.expect("syntax error expected");
        assert!(err.pos.line >= 5, "{err:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        // Flow nesting is stopped by yaml-rust2, block nesting by our own limit.
        let flow = "[".repeat(100_000);
        let block: String = (0..300)
            .map(|depth| format!("{}a:\n", "  ".repeat(depth)))
            .collect();
        for text in [flow, block] {
            let message = parse_stream(&text).1.map(|e| e.message).unwrap_or_default();
            assert!(
                message.contains("nesting deeper than 200") || message.contains("recursion limit"),
                "{message}"
            );
        }
        let text = format!("{}x{}", "[".repeat(150), "]".repeat(150));
        assert!(parse_stream(&text).1.is_none());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..8 {
            let prev = level - 1;
            text.push_str(&format!(
                "a{level}: &a{level} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let (_, err) = parse_stream(&text);
        assert!(err.expect("refused").message.contains("alias expansion"));
    }
}
