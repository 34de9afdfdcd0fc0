//! The `spine-host` binary: parse the command line, run, print any error once.

fn main() {
    std::process::exit(spine_host::cli::main());
}
