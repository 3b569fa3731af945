//! The `prime-client` binary: everything lives in the library, see `prime_client::main_entry`.

fn main() -> std::process::ExitCode {
    prime_client::main_entry()
}
