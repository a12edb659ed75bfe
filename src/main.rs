//! The `git-batch` binary: everything happens in the library.

fn main() -> std::process::ExitCode {
    git_batch::commands::main()
}
