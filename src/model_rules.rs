//! The rules a model must follow whichever engine runs it, checked on the decoded protobuf
//! before either engine builds anything: the operator sets it imports, the domains of its
//! nodes, one definition per value, and which operators an engine lacks.
//!
//! The engines decode the protobuf with their own (identical) prost types: `tract_onnx::pb`
//! and `src/lite/pb.rs`. [`proto_views!`] gives both the views these rules read.

use std::collections::HashMap;

use crate::error::{Error, ErrorCode, Result};

/// The newest version of the default (`ai.onnx`) operator set onnxlet knows (ONNX 1.23).
pub const MAX_DEFAULT_OPSET: i64 = 28;
/// The newest version of the `ai.onnx.ml` operator set onnxlet knows (ONNX 1.23).
pub const MAX_ML_OPSET: i64 = 5;

/// The domains whose operators an engine may implement: any other is refused by name.
const DOMAINS: [&str; 3] = ["ai.onnx", "ai.onnx.ml", "com.microsoft"];

/// A graph, as these rules read it.
pub trait GraphView {
    type Node: NodeView<Graph = Self>;
    fn nodes(&self) -> &[Self::Node];
    /// The names of the graph's inputs and initializers.
    fn defined(&self) -> Vec<&str>;
}

/// A node, as these rules read it.
pub trait NodeView {
    type Graph: GraphView<Node = Self>;
    fn op_type(&self) -> &str;
    /// The domain, `""` for the default one.
    fn domain(&self) -> &str;
    /// The node's name, or its first output's when it has none.
    fn label(&self) -> &str;
    fn outputs(&self) -> &[String];
    /// The graphs of the node's attributes (`If` branches, `Loop` and `Scan` bodies).
    fn subgraphs(&self) -> Vec<&Self::Graph>;
}

/// Implements [`GraphView`] and [`NodeView`] for a prost-generated ONNX module `$pb`.
macro_rules! proto_views {
    ($pb:path) => {
        use $pb as views_pb;
        impl $crate::model_rules::GraphView for views_pb::GraphProto {
            type Node = views_pb::NodeProto;
            fn nodes(&self) -> &[views_pb::NodeProto] {
                &self.node
            }
            fn defined(&self) -> Vec<&str> {
                let inputs = self.input.iter().map(|v| v.name.as_str());
                inputs
                    .chain(self.initializer.iter().map(|t| t.name.as_str()))
                    .collect()
            }
        }
        impl $crate::model_rules::NodeView for views_pb::NodeProto {
            type Graph = views_pb::GraphProto;
            fn op_type(&self) -> &str {
                &self.op_type
            }
            fn domain(&self) -> &str {
                &self.domain
            }
            fn label(&self) -> &str {
                if self.name.is_empty() {
                    self.output.first().map(String::as_str).unwrap_or("")
                } else {
                    &self.name
                }
            }
            fn outputs(&self) -> &[String] {
                &self.output
            }
            fn subgraphs(&self) -> Vec<&views_pb::GraphProto> {
                let graphs = self.attribute.iter();
                graphs.flat_map(|a| a.g.iter().chain(&a.graphs)).collect()
            }
        }
    };
}
pub(crate) use proto_views;

/// `domain` with the default domain named.
fn domain_name(domain: &str) -> &str {
    if domain.is_empty() {
        "ai.onnx"
    } else {
        domain
    }
}

/// Checks the versions of the operator sets a model imports (`(domain, version)`), and returns
/// the default domain's, if imported.
pub fn check_opsets<'a>(imports: impl IntoIterator<Item = (&'a str, i64)>) -> Result<Option<i64>> {
    let mut default = None;
    for (domain, version) in imports {
        let max = match domain_name(domain) {
            "ai.onnx" => MAX_DEFAULT_OPSET,
            "ai.onnx.ml" => MAX_ML_OPSET,
            _ => i64::MAX,
        };
        if !(1..=max).contains(&version) {
            let known = if max == i64::MAX {
                String::new()
            } else {
                format!(" (onnxlet knows versions 1 to {max})")
            };
            return Err(Error::invalid_model(format!(
                "the model imports version {version} of operator set {}{known}",
                domain_name(domain)
            )));
        }
        if domain_name(domain) == "ai.onnx" {
            default = Some(version);
        }
    }
    Ok(default)
}

/// Every node of `graph` and of its subgraphs, with the graph it is in.
fn walk<'g, G: GraphView>(
    graph: &'g G,
    f: &mut impl FnMut(&'g G, &'g G::Node) -> Result<()>,
) -> Result<()> {
    for node in graph.nodes() {
        f(graph, node)?;
        for sub in node.subgraphs() {
            walk(sub, f)?;
        }
    }
    Ok(())
}

/// Checks that every node is in a domain an engine may implement, and that each graph defines
/// each value once (inputs and initializers may share a name: the initializer is the input's
/// default). A subgraph is a scope of its own: optimum's `If` branches name their outputs like
/// the `If`'s own.
pub fn check_graph<G: GraphView>(graph: &G) -> Result<()> {
    let mut scopes: HashMap<*const G, HashMap<&str, &str>> = HashMap::new();
    walk(graph, &mut |g, node| {
        let domain = domain_name(node.domain());
        if !DOMAINS.contains(&domain) {
            return Err(Error::new(
                ErrorCode::UnsupportedOperator,
                format!(
                    "unsupported operator {} at node '{}': its domain {domain} is none of {}",
                    node.op_type(),
                    node.label(),
                    DOMAINS.join(", ")
                ),
            ));
        }
        let defined = scopes
            .entry(g as *const G)
            .or_insert_with(|| g.defined().into_iter().map(|name| (name, "")).collect());
        for output in node.outputs().iter().filter(|o| !o.is_empty()) {
            if let Some(by) = defined.insert(output, node.label()) {
                let first = if by.is_empty() {
                    "it is also an input or initializer of the graph".to_string()
                } else {
                    format!("node '{by}' produces it too")
                };
                return Err(Error::invalid_model(format!(
                    "node '{}' writes value '{output}', which is defined twice: {first}",
                    node.label()
                )));
            }
        }
        Ok(())
    })
}

/// The nodes (subgraphs included) whose operator an engine lacks (`known` says which it has),
/// each as "Op (domain d, opset v) at node 'n'", and their operator names.
pub fn unsupported<'a, G: GraphView>(
    graph: &G,
    imports: impl IntoIterator<Item = (&'a str, i64)> + Clone,
    known: impl Fn(&G::Node) -> bool,
) -> (Vec<String>, Vec<String>) {
    let mut missing = (vec![], vec![]);
    let _ = walk(graph, &mut |_, node| {
        if !known(node) {
            let domain = domain_name(node.domain());
            let opset = imports
                .clone()
                .into_iter()
                .find(|(d, _)| domain_name(d) == domain)
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| "?".into());
            missing.0.push(format!(
                "{} (domain {domain}, opset {opset}) at node '{}'",
                node.op_type(),
                node.label()
            ));
            missing.1.push(node.op_type().to_string());
        }
        Ok(())
    });
    missing
}

/// The error for `missing` operators (from [`unsupported`]), `what` naming the build, or none.
pub fn unsupported_error(missing: &[String], what: &str, hint: &str) -> Result<()> {
    let list = match missing.len() {
        0 => return Ok(()),
        1 => format!("unsupported operator {}{what}", missing[0]),
        n => format!("{n} unsupported operators{what}: {}", missing.join("; ")),
    };
    Err(Error::new(
        ErrorCode::UnsupportedOperator,
        format!("{list}{hint}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct G {
        nodes: Vec<N>,
        defined: Vec<&'static str>,
    }

    struct N {
        op: &'static str,
        domain: &'static str,
        name: &'static str,
        outputs: Vec<String>,
        subgraphs: Vec<G>,
    }

    impl GraphView for G {
        type Node = N;
        fn nodes(&self) -> &[N] {
            &self.nodes
        }
        fn defined(&self) -> Vec<&str> {
            self.defined.clone()
        }
    }

    impl NodeView for N {
        type Graph = G;
        fn op_type(&self) -> &str {
            self.op
        }
        fn domain(&self) -> &str {
            self.domain
        }
        fn label(&self) -> &str {
            self.name
        }
        fn outputs(&self) -> &[String] {
            &self.outputs
        }
        fn subgraphs(&self) -> Vec<&G> {
            self.subgraphs.iter().collect()
        }
    }

    fn node(op: &'static str, name: &'static str, outputs: &[&str]) -> N {
        N {
            op,
            domain: "",
            name,
            outputs: outputs.iter().map(|o| o.to_string()).collect(),
            subgraphs: vec![],
        }
    }

    fn graph(nodes: Vec<N>) -> G {
        G {
            nodes,
            defined: vec!["x", "w"],
        }
    }

    #[test]
    fn opset_versions_onnxlet_does_not_know_are_refused() {
        assert_eq!(check_opsets([("", 17)]).unwrap(), Some(17));
        assert_eq!(check_opsets([("ai.onnx", 28)]).unwrap(), Some(28));
        assert_eq!(check_opsets([("ai.onnx.ml", 3)]).unwrap(), None);
        assert_eq!(
            check_opsets([("", 13), ("com.vendor", 1000)]).unwrap(),
            Some(13)
        );
        for (domain, version) in [("", 0), ("", 999), ("ai.onnx.ml", 6), ("", -1)] {
            let e = check_opsets([(domain, version)]).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidModel);
            assert!(e.message.contains(&format!("version {version}")), "{e}");
        }
    }

    #[test]
    fn a_domain_no_engine_implements_is_unsupported() {
        let mut evil = node("Relu", "r", &["y"]);
        evil.domain = "com.evil";
        let e = check_graph(&graph(vec![evil])).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedOperator);
        assert!(e.message.contains("its domain com.evil"), "{e}");
        let mut ms = node("FusedMatMul", "f", &["y"]);
        ms.domain = "com.microsoft";
        check_graph(&graph(vec![ms])).unwrap();
    }

    #[test]
    fn each_value_is_defined_once_per_graph() {
        let twice = graph(vec![node("Relu", "a", &["y"]), node("Neg", "b", &["y"])]);
        let e = check_graph(&twice).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidModel);
        assert!(e.message.contains("node 'b' writes value 'y'"), "{e}");
        assert!(e.message.contains("node 'a' produces it too"), "{e}");
        let over_input = graph(vec![node("Relu", "a", &["w"])]);
        let e = check_graph(&over_input).unwrap_err();
        assert!(e.message.contains("an input or initializer"), "{e}");
        // Omitted optional outputs ("") may repeat; a branch may reuse the outer names.
        let mut branching = node("If", "if", &["y", "", ""]);
        branching.subgraphs = vec![G {
            nodes: vec![node("Identity", "i", &["y"])],
            defined: vec![],
        }];
        check_graph(&graph(vec![branching, node("Dropout", "d", &["z", ""])])).unwrap();
        // Inside one branch, the rule holds too.
        let mut bad_branch = node("If", "if", &["y"]);
        bad_branch.subgraphs = vec![G {
            nodes: vec![node("Relu", "i", &["t"]), node("Neg", "j", &["t"])],
            defined: vec![],
        }];
        assert!(check_graph(&graph(vec![bad_branch])).is_err());
    }

    #[test]
    fn unsupported_operators_are_listed_with_domain_opset_and_node() {
        let mut sub = node("Loop", "loop", &["y"]);
        sub.subgraphs = vec![graph(vec![node("Frob", "f", &["t"])])];
        let g = graph(vec![sub, node("Relu", "r", &["z"])]);
        let (missing, ops) = unsupported(&g, [("", 13)], |n| n.op != "Frob");
        assert_eq!(missing, ["Frob (domain ai.onnx, opset 13) at node 'f'"]);
        assert_eq!(ops, ["Frob"]);
        let e = unsupported_error(&missing, " in the lite build", ". Hint").unwrap_err();
        assert_eq!(
            e.message,
            "unsupported operator Frob (domain ai.onnx, opset 13) at node 'f' in the lite build. Hint"
        );
        assert!(unsupported_error(&[], "", "").is_ok());
    }
}
