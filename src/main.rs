//! The `rolodex` command. Everything it does is in [`rolodex::cli`].

fn main() -> std::process::ExitCode {
    rolodex::cli::main()
}
