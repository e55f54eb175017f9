use std::process::ExitCode;

fn main() -> ExitCode {
    vina_host::cli::main()
}
