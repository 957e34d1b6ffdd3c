//! maestro as a language server in Zed. The extension only finds the binary and starts
//! `maestro lsp`; the server does the rest (it starts or reuses the per-user daemon).

use zed_extension_api::{self as zed, LanguageServerId, Result, settings::LspSettings};

/// The server's id in `extension.toml` and in Zed's `lsp` settings.
const SERVER: &str = "maestro";

struct Maestro;

/// What to run: the configured binary and arguments, else `maestro` from the worktree's `PATH`
/// with `lsp`; a clear error naming the fix when there is neither.
fn command_for(
    configured_path: Option<String>,
    configured_args: Option<Vec<String>>,
    on_path: Option<String>,
) -> std::result::Result<(String, Vec<String>), String> {
    let args = configured_args.unwrap_or_else(|| vec!["lsp".to_owned()]);
    match configured_path.or(on_path) {
        Some(path) => Ok((path, args)),
        None => Err(
            "maestro is not on PATH: install it with ./install.sh from the maestro repository, \
             or set lsp.maestro.binary.path in Zed's settings"
                .to_owned(),
        ),
    }
}

impl zed::Extension for Maestro {
    fn new() -> Self {
        Maestro
    }

    fn language_server_command(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree(SERVER, worktree)
            .ok()
            .and_then(|s| s.binary);
        let (path, args) = binary.map_or((None, None), |b| (b.path, b.arguments));
        let (command, args) = command_for(path, args, worktree.which(SERVER))?;
        Ok(zed::Command {
            command,
            args,
            env: worktree.shell_env(),
        })
    }

    fn language_server_initialization_options(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        Ok(LspSettings::for_worktree(SERVER, worktree)
            .ok()
            .and_then(|s| s.initialization_options))
    }
}

zed::register_extension!(Maestro);

#[cfg(test)]
mod tests {
    use super::command_for;

    #[test]
    fn the_setting_wins_over_path_and_lsp_is_the_default_argument() {
        let on_path = Some("/usr/bin/maestro".to_owned());
        assert_eq!(
            command_for(None, None, on_path.clone()),
            Ok(("/usr/bin/maestro".to_owned(), vec!["lsp".to_owned()]))
        );
        assert_eq!(
            command_for(
                Some("/opt/maestro".to_owned()),
                Some(vec!["lsp".into(), "--standalone".into()]),
                on_path
            ),
            Ok((
                "/opt/maestro".to_owned(),
                vec!["lsp".to_owned(), "--standalone".to_owned()]
            ))
        );
    }

    #[test]
    fn no_binary_is_an_error_naming_the_fix() {
        let e = command_for(None, None, None).unwrap_err();
        assert!(
            e.contains("install.sh") && e.contains("lsp.maestro.binary.path"),
            "{e}"
        );
    }
}
