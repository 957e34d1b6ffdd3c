//! A person's review of an agent's changes, as the agent's next prompt: each comment with its
//! file, its lines, its words and the hunk of the agent's diff it is about (or, on lines the agent
//! did not change, those lines as they are).
//!
//! Comments come from an editor (VS Code's comments on the diff editor, Neovim's quickfix list)
//! and are untrusted: a file must be a relative path inside the worktree, lines must exist.

use maestro_protocol::ReviewComment;
use std::path::{Component, Path};

/// A hunk of the agent's diff is cut after this many lines in the prompt.
const MAX_HUNK_LINES: usize = 80;
/// Lines shown around a comment on lines the agent did not change.
const CONTEXT: u32 = 2;

/// One hunk of a unified diff, with where it lies in the new file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hunk {
    /// 1-based first line in the new file; a hunk that only deletes has `len` 0.
    start: u32,
    len: u32,
    text: String,
}

/// The prompt that hands `comments` to the agent. `patch` is its diff against its base (as
/// `maestro/agent.diff` answers); `worktree` is where its files are.
pub fn prompt(patch: &str, worktree: &Path, comments: &[ReviewComment]) -> Result<String, String> {
    if comments.is_empty() {
        return Err("a review needs at least one comment".into());
    }
    let files = parse(patch);
    let n = comments.len();
    let mut out = format!(
        "A person reviewed your changes and left {n} comment{}. Address each one in your \
         worktree, then commit.\n",
        if n == 1 { "" } else { "s" }
    );
    for (i, c) in comments.iter().enumerate() {
        let which = format!("comment {} ({}:{})", i + 1, c.file, c.line);
        check_path(&c.file).map_err(|e| format!("{which}: {e}"))?;
        let body = c.body.trim();
        if body.is_empty() {
            return Err(format!("{which}: the comment is empty"));
        }
        let end = c.end_line.unwrap_or(c.line);
        if c.line == 0 || end < c.line {
            return Err(format!(
                "{which}: lines {}-{end} are not a range of lines (1-based, first ≤ last)",
                c.line
            ));
        }
        let lines = if end == c.line {
            format!("line {}", c.line)
        } else {
            format!("lines {}-{end}", c.line)
        };
        out.push_str(&format!("\n## Comment {} — {}, {lines}\n\n", i + 1, c.file));
        for l in body.lines() {
            out.push_str(&format!("> {l}\n"));
        }
        let hunks: Vec<&Hunk> = files
            .iter()
            .filter(|(path, _)| *path == c.file)
            .flat_map(|(_, hunks)| hunks)
            .filter(|h| h.start <= end && c.line < h.start + h.len.max(1))
            .collect();
        if hunks.is_empty() {
            let text = read_inside(worktree, &c.file).map_err(|e| {
                format!(
                    "{which}: {} is not among the agent's changes and cannot be read in its worktree: {e}",
                    c.file
                )
            })?;
            let all: Vec<&str> = text.lines().collect();
            if c.line as usize > all.len() {
                return Err(format!(
                    "{which}: {} has {} lines; line {} is not one of them",
                    c.file,
                    all.len(),
                    c.line
                ));
            }
            let from = c.line.saturating_sub(CONTEXT).max(1);
            let to = (end + CONTEXT).min(all.len() as u32);
            out.push_str("\nThe agent did not change these lines; as they are now:\n\n```\n");
            for n in from..=to {
                out.push_str(&format!("{n:>5}  {}\n", all[n as usize - 1]));
            }
            out.push_str("```\n");
        } else {
            out.push_str("\nYour change there:\n\n```diff\n");
            for h in hunks {
                let lines: Vec<&str> = h.text.lines().collect();
                for l in lines.iter().take(MAX_HUNK_LINES) {
                    out.push_str(l);
                    out.push('\n');
                }
                if lines.len() > MAX_HUNK_LINES {
                    out.push_str(&format!(
                        "… ({} more lines of this hunk)\n",
                        lines.len() - MAX_HUNK_LINES
                    ));
                }
            }
            out.push_str("```\n");
        }
    }
    Ok(out)
}

/// A file of the worktree, read only when it resolves inside it (a committed link may point
/// anywhere) and is a regular file.
fn read_inside(worktree: &Path, file: &str) -> Result<String, String> {
    let root = worktree.canonicalize().map_err(|e| e.to_string())?;
    let path = root.join(file).canonicalize().map_err(|e| e.to_string())?;
    if !path.starts_with(&root) {
        return Err("it resolves outside the worktree (a link)".into());
    }
    if !path.is_file() {
        return Err("it is not a regular file".into());
    }
    std::fs::read_to_string(&path).map_err(|e| e.to_string())
}

/// A comment's file: relative, inside the worktree, named plainly.
fn check_path(file: &str) -> Result<(), String> {
    let path = Path::new(file);
    if file.is_empty() {
        return Err("no file named".into());
    }
    if path.is_absolute() {
        return Err(format!(
            "`{file}` is absolute: name files relative to the worktree"
        ));
    }
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!("`{file}` leaves the worktree"));
    }
    Ok(())
}

/// The files of a unified diff (`diff --git` sections) with their hunks, by the path in the new
/// tree (the old one for a deleted file).
fn parse(patch: &str) -> Vec<(String, Vec<Hunk>)> {
    let mut files: Vec<(String, Vec<Hunk>)> = Vec::new();
    let mut old_path: Option<String> = None;
    for line in patch.lines() {
        if line.starts_with("diff --git ") {
            old_path = None;
            files.push((String::new(), Vec::new()));
            continue;
        }
        let Some((path, hunks)) = files.last_mut() else {
            continue;
        };
        if hunks.is_empty() && path.is_empty() {
            if let Some(p) = line.strip_prefix("--- ") {
                old_path = p.strip_prefix("a/").map(str::to_owned);
                continue;
            }
            if let Some(p) = line.strip_prefix("+++ ") {
                *path = match p.strip_prefix("b/") {
                    Some(new) => new.to_owned(),
                    None => old_path.clone().unwrap_or_default(),
                };
                continue;
            }
        }
        if let Some(header) = line.strip_prefix("@@ ") {
            let (start, len) = new_range(header).unwrap_or((0, 0));
            hunks.push(Hunk {
                start,
                len,
                text: format!("{line}\n"),
            });
            continue;
        }
        if let Some(h) = hunks.last_mut()
            && (line.starts_with([' ', '+', '-', '\\']) || line.is_empty())
        {
            h.text.push_str(line);
            h.text.push('\n');
        }
    }
    files.retain(|(path, _)| !path.is_empty());
    files
}

/// The new file's range of a hunk header's `+start,len` (`len` 1 when left out).
fn new_range(header: &str) -> Option<(u32, u32)> {
    let plus = header.split_whitespace().find(|p| p.starts_with('+'))?;
    let mut parts = plus[1..].split(',');
    let start = parts.next()?.parse().ok()?;
    let len = match parts.next() {
        Some(l) => l.parse().ok()?,
        None => 1,
    };
    Some((start, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "diff --git a/src/app.py b/src/app.py
index 1111111..2222222 100644
--- a/src/app.py
+++ b/src/app.py
@@ -1,4 +1,5 @@
 import os
+import sys
 
 def main():
     pass
@@ -20,3 +21,3 @@ def helper():
-    return 1
+    return 2
 
diff --git a/new.txt b/new.txt
new file mode 100644
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+one
+two
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
";

    fn comment(file: &str, line: u32, end: Option<u32>, body: &str) -> ReviewComment {
        ReviewComment {
            file: file.into(),
            line,
            end_line: end,
            body: body.into(),
        }
    }

    #[test]
    fn a_diff_is_read_into_files_and_hunks() {
        let files = parse(PATCH);
        let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["src/app.py", "new.txt", "gone.txt"]);
        let ranges: Vec<(u32, u32)> = files[0].1.iter().map(|h| (h.start, h.len)).collect();
        assert_eq!(ranges, [(1, 5), (21, 3)]);
        assert_eq!((files[2].1[0].start, files[2].1[0].len), (0, 0));
        assert!(files[0].1[1].text.contains("+    return 2\n"));
    }

    #[test]
    fn each_comment_comes_with_its_file_lines_words_and_hunk() {
        let dir = tempfile::tempdir().unwrap();
        let text = prompt(
            PATCH,
            dir.path(),
            &[
                comment("src/app.py", 22, None, "Why 2?\nIt was 1 on purpose."),
                comment("new.txt", 1, Some(2), "Name these better."),
            ],
        )
        .unwrap();
        assert!(text.starts_with("A person reviewed your changes and left 2 comments."));
        assert!(
            text.contains(
                "## Comment 1 — src/app.py, line 22\n\n> Why 2?\n> It was 1 on purpose.\n"
            )
        );
        assert!(text.contains("@@ -20,3 +21,3 @@ def helper():\n-    return 1\n+    return 2\n"));
        assert!(
            !text.contains("+import sys"),
            "only the hunk the comment is on: {text}"
        );
        assert!(text.contains("## Comment 2 — new.txt, lines 1-2"));
        assert!(text.contains("+one\n+two\n"));
    }

    #[test]
    fn a_comment_on_unchanged_lines_quotes_them_from_the_worktree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lib.rs"), "a\nb\nc\nd\ne\nf\n").unwrap();
        let text = prompt(PATCH, dir.path(), &[comment("lib.rs", 4, None, "d?")]).unwrap();
        assert!(text.contains("did not change these lines"), "{text}");
        assert!(
            text.contains("    2  b\n    3  c\n    4  d\n    5  e\n    6  f\n"),
            "{text}"
        );
        let past = prompt(PATCH, dir.path(), &[comment("lib.rs", 40, None, "?")]).unwrap_err();
        assert!(
            past.contains("lib.rs has 6 lines; line 40 is not one of them"),
            "{past}"
        );
    }

    #[test]
    fn bad_comments_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let refused = |c: ReviewComment| prompt(PATCH, dir.path(), &[c]).unwrap_err();
        assert_eq!(
            prompt(PATCH, dir.path(), &[]).unwrap_err(),
            "a review needs at least one comment"
        );
        assert!(refused(comment("../secrets", 1, None, "x")).contains("leaves the worktree"));
        assert!(refused(comment("/etc/passwd", 1, None, "x")).contains("is absolute"));
        assert!(refused(comment("new.txt", 1, None, "  ")).contains("the comment is empty"));
        assert!(refused(comment("new.txt", 3, Some(2), "x")).contains("not a range of lines"));
        assert!(refused(comment("new.txt", 0, None, "x")).contains("not a range of lines"));
        assert!(
            refused(comment("missing.rs", 1, None, "x"))
                .contains("not among the agent's changes and cannot be read")
        );
        // A committed link out of the worktree is not followed into the prompt.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let e = refused(comment("link/secret", 1, None, "x"));
        assert!(e.contains("resolves outside the worktree"), "{e}");
        assert!(!e.contains("s3cret"));
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(refused(comment("sub", 1, None, "x")).contains("not a regular file"));
    }
}
