//! The trust methods (`maestro/trust.list|approve|revoke`) and the approvals they store.

use crate::agent_settings::workspace_of;
use crate::config::Config;
use crate::engine::{Engine, store_error, unix_now};
use crate::session::{Answer, Session};
use maestro_protocol::{
    RpcError, TrustApproveParams, TrustListParams, TrustListResult, TrustRevokeParams, code,
};
use maestro_store::TrustedRow;
use std::path::Path;

impl Engine {
    /// Approves `command` for `key` of the repository at `root`, if the file says exactly that.
    pub(crate) async fn approve(
        &self,
        root: &Path,
        config: &Config,
        key: &str,
        command: Vec<String>,
    ) -> Result<TrustListResult, RpcError> {
        let list = self.trust().list(root, config);
        let Some(current) = list.commands.iter().find(|c| c.key == key) else {
            return Err(RpcError::invalid_params(
                maestro_protocol::method::TRUST_APPROVE,
                format!(
                    "{} does not choose a command for `{key}`; it chooses: {}",
                    root.display(),
                    names(&list)
                ),
            ));
        };
        if current.command != command {
            return Err(RpcError::new(
                code::CONFLICT,
                format!(
                    "`{key}` in {} is now {}, not the {} you were shown; look again with `maestro trust`",
                    current.file.display(),
                    crate::text::shell_words(&current.command),
                    crate::text::shell_words(&command),
                ),
            ));
        }
        let row = TrustedRow {
            root: root.to_string_lossy().into_owned(),
            key: key.to_owned(),
            command: command.clone(),
            file: current.file.to_string_lossy().into_owned(),
            at: unix_now(),
        };
        self.store()
            .trust_command(&row)
            .await
            .map_err(store_error)?;
        self.trust().set(root, key, Some(command));
        tracing::info!(root = %root.display(), key, "repository command approved");
        Ok(self.trust().list(root, config))
    }

    /// Forgets the approval of `key` (or all) of the repository at `root`.
    pub(crate) async fn revoke(
        &self,
        root: &Path,
        config: &Config,
        key: Option<&str>,
    ) -> Result<TrustListResult, RpcError> {
        self.store()
            .revoke_trust(&root.to_string_lossy(), key)
            .await
            .map_err(store_error)?;
        match key {
            Some(key) => self.trust().set(root, key, None),
            None => self.trust().forget(root),
        }
        Ok(self.trust().list(root, config))
    }
}

fn names(list: &TrustListResult) -> String {
    if list.commands.is_empty() {
        return "nothing".to_owned();
    }
    list.commands
        .iter()
        .map(|c| format!("`{}`", c.key))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn list(s: &Session, p: TrustListParams) -> Answer<TrustListResult> {
    Answer::Now(
        workspace_of(s.engine.config(), &p.path)
            .map(|(ws, config)| s.engine.trust().list(&ws.root, &config)),
    )
}

pub(crate) fn approve(s: &Session, p: TrustApproveParams) -> Answer<TrustListResult> {
    let engine = s.engine.clone();
    match workspace_of(engine.config(), &p.path) {
        Ok((ws, config)) => {
            Answer::later(async move { engine.approve(&ws.root, &config, &p.key, p.command).await })
        }
        Err(e) => Answer::Now(Err(e)),
    }
}

pub(crate) fn revoke(s: &Session, p: TrustRevokeParams) -> Answer<TrustListResult> {
    let engine = s.engine.clone();
    match workspace_of(engine.config(), &p.path) {
        Ok((ws, config)) => {
            Answer::later(async move { engine.revoke(&ws.root, &config, p.key.as_deref()).await })
        }
        Err(e) => Answer::Now(Err(e)),
    }
}
