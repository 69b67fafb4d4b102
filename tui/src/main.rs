use clap::Parser;
use kpath::args::Cli;
use kpath::cmd::run;
use kpath::failure::Output;
use std::io::Write;
use std::process::ExitCode;

// mimalloc instead of glibc's malloc: a 10,000-Service node is millions of small
// allocations, and glibc spent a third of the time loading it in malloc_consolidate and
// unlink_chunk (and 70 ms trimming its heap before the first walk). See README, Scale.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Output::Text(t)) => {
            // A closed pipe (`kpath trace ... | head`) is not an error worth a panic.
            let _ = std::io::stdout().write_all(t.as_bytes());
            ExitCode::SUCCESS
        }
        Ok(Output::Report { text, ok }) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Ok(Output::Written(msg)) => {
            eprintln!("{msg}");
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(f.status as u8)
        }
    }
}
