//! `maestro mesh join|leave|status|nodes`: this machine in the mesh of `mesh.urls`.

use super::follow::plain;
use super::{connect_cli, print_json};
use crate::cli::MeshAction;
use maestro_engine::Paths;
use maestro_engine::text::printable;
use maestro_protocol::{MeshMembership, NodeInfo, NodeState, method};
use serde_json::json;

pub async fn run(paths: &Paths, action: MeshAction) -> anyhow::Result<i32> {
    act(paths, action).await.map_err(plain)
}

async fn act(paths: &Paths, action: MeshAction) -> anyhow::Result<i32> {
    let c = connect_cli(paths, true).await?;
    let (m, output) = match action {
        MeshAction::Join(o) => (method::MESH_JOIN, o),
        MeshAction::Leave(o) => (method::MESH_LEAVE, o),
        MeshAction::Status(o) => (method::MESH_STATUS, o),
        MeshAction::Nodes(output) => {
            let nodes: Vec<NodeInfo> = c.client.request(method::MESH_NODES, json!(null)).await?;
            if output.json {
                nodes.iter().for_each(print_json);
            } else {
                print!("{}", printable(&node_table(&nodes)));
            }
            return Ok(0);
        }
    };
    let status: MeshMembership = c.client.request(m, json!(null)).await?;
    if output.json {
        print_json(&status);
    } else {
        print!("{}", printable(&membership(&status)));
    }
    Ok(if m == method::MESH_STATUS && status.error.is_some() {
        1
    } else {
        0
    })
}

fn membership(s: &MeshMembership) -> String {
    let mut out = String::new();
    if s.joined {
        out.push_str(&format!(
            "node {} in the mesh{}\n",
            s.node,
            s.server
                .as_deref()
                .map(|srv| format!(", connected to {srv}"))
                .unwrap_or_default()
        ));
        out.push_str(&format!(
            "  heartbeat every {} s; a node silent for {} s is gone\n",
            s.heartbeat_secs, s.ttl_secs
        ));
    } else if s.urls.is_empty() {
        out.push_str("not in a mesh (mesh.urls is empty: this machine only)\n");
    } else {
        out.push_str(&format!(
            "not in a mesh; `maestro mesh join` joins {} as node {}\n",
            s.urls.join(", "),
            s.node
        ));
    }
    if let Some(e) = &s.error {
        out.push_str(&format!("  error: {e}\n"));
    }
    out
}

fn node_table(nodes: &[NodeInfo]) -> String {
    let mut out = format!(
        "{:<16} {:<5} {:>5} {:>7}  {:<28} {}\n",
        "NODE", "STATE", "LOAD", "AGENTS", "CLIS", "HOST"
    );
    for n in nodes {
        out.push_str(&format!(
            "{:<16} {:<5} {:>5.2} {:>3}/{:<3}  {:<28} {}{}\n",
            format!("{}{}", n.name, if n.this { "*" } else { "" }),
            match n.state {
                NodeState::Live => "live",
                NodeState::Gone => "gone",
            },
            n.load,
            n.running,
            n.agents.len(),
            n.clis.join(","),
            n.host,
            if n.labels.is_empty() {
                String::new()
            } else {
                format!(" [{}]", n.labels.join(", "))
            }
        ));
    }
    out
}
