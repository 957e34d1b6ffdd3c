//! An agent's settings from the configuration: the workspace around a path with its
//! configuration, which program a CLI name runs with which arguments, limits, setup and prices,
//! and the trust check of a repository-chosen setup command. Shared by the agent requests, the
//! delegate actions and the playbook runner's host.

use crate::config::settings::CustomCli;
use crate::config::{self, Config};
use crate::trust::Trust;
use crate::workspace::{find_root, workspace_id};
use maestro_agents::adapters::{BUILT_IN, CustomAgent, CustomOutput, FieldMap};
use maestro_agents::{AgentCli, AgentSettings, WorkspaceRef};
use maestro_protocol::{Isolation, RpcError, code, method};
use std::path::{Path, PathBuf};

/// The workspace around `path` and its configuration (a broken repository config is an error:
/// it may say which program to run or how to set up).
pub(crate) fn workspace_of(user: &Config, path: &Path) -> Result<(WorkspaceRef, Config), RpcError> {
    let found = find_root(path).map_err(|e| RpcError::not_found(e.to_string()))?;
    let config = user
        .with_workspace(&found.root)
        .map_err(|e| RpcError::new(code::CONFIG_INVALID, e.to_string()))?;
    Ok((
        WorkspaceRef {
            id: workspace_id(&found.root),
            root: found.root,
        },
        config,
    ))
}

/// The settings of an agent about to start with `isolation` (the configured one when `None`):
/// refused when a setup command the repository chose would run without the person's approval.
pub(crate) fn spawn_settings(
    trust: &Trust,
    root: &Path,
    config: &Config,
    cli_name: &str,
    isolation: Option<Isolation>,
) -> Result<AgentSettings, RpcError> {
    let s = settings(config, cli_name)?;
    if isolation.unwrap_or(s.isolation) == Isolation::Worktree && !s.setup_command.is_empty() {
        trust.check(root, config, config::AGENTS_SETUP_COMMAND)?;
    }
    Ok(s)
}

/// An agent CLI's settings from the configuration.
pub(crate) fn settings(config: &Config, cli_name: &str) -> Result<AgentSettings, RpcError> {
    let agents = &config.settings().agents;
    let (cli, program, program_key, configured, extra_args, model) = if let Some(cli) =
        AgentCli::built_in(cli_name)
    {
        let configured = &agents.built_in[cli_name];
        let program = configured
            .path
            .clone()
            .unwrap_or_else(|| PathBuf::from(cli.default_program()));
        (
            cli,
            program,
            format!("agents.{cli_name}.path"),
            configured.path.is_some(),
            configured.args.clone(),
            configured.model.clone(),
        )
    } else if let Some(custom) = agents.custom.get(cli_name) {
        let custom = custom_agent(cli_name, custom)?;
        let key = format!("{}.program", custom_prefix(cli_name));
        let program = PathBuf::from(&custom.program);
        (
            AgentCli::Custom(Box::new(custom)),
            program,
            key,
            true,
            Vec::new(),
            None,
        )
    } else {
        let mut known: Vec<String> = BUILT_IN.iter().map(|n| (*n).to_owned()).collect();
        known.extend(agents.custom.keys().cloned());
        return Err(RpcError::invalid_params(
            method::AGENT_SPAWN,
            format!(
                "`{cli_name}` is not an agent CLI maestro knows: one of {}, or define it under [agents.custom.{cli_name}]",
                known.join(", ")
            ),
        ));
    };
    Ok(AgentSettings {
        cli_name: cli_name.to_owned(),
        cli,
        program,
        program_configured: configured,
        program_key,
        extra_args,
        model,
        silence_timeout: agents.silence_timeout,
        turn_timeout: agents.turn_timeout,
        needs_input_after: agents.needs_input_after,
        setup_files: agents.setup_files.clone(),
        setup_command: agents.setup_command.clone(),
        isolation: agents.isolation,
        output_buffer: agents.output_buffer_bytes,
        prices: agents.prices.clone(),
    })
}

fn custom_prefix(name: &str) -> String {
    config::key_from_parts(&["agents", "custom", name])
}

fn custom_agent(name: &str, c: &CustomCli) -> Result<CustomAgent, RpcError> {
    let program = c.program.clone().filter(|p| !p.is_empty()).ok_or_else(|| {
        RpcError::new(
            code::CONFIG_INVALID,
            format!(
                "custom agent `{name}` has no program: set {}.program in your config",
                custom_prefix(name)
            ),
        )
    })?;
    let field = |k: &str| c.fields.get(k).cloned();
    let output = match c.output.as_deref() {
        Some("jsonl") => CustomOutput::Jsonl(Box::new(FieldMap {
            type_field: field("type_field").unwrap_or_else(|| "/type".into()),
            result_type: field("result_type").unwrap_or_default(),
            error_type: field("error_type").unwrap_or_default(),
            session_field: field("session_field").unwrap_or_default(),
            text_field: field("text_field").unwrap_or_default(),
            error_field: field("error_field").unwrap_or_default(),
            input_tokens_field: field("input_tokens_field").unwrap_or_default(),
            output_tokens_field: field("output_tokens_field").unwrap_or_default(),
            cost_field: field("cost_field").unwrap_or_default(),
        })),
        _ => CustomOutput::Text,
    };
    Ok(CustomAgent {
        name: name.to_owned(),
        program,
        args: c.args.clone(),
        resume_args: c.resume_args.clone(),
        output,
    })
}
