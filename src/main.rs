//! `pylon`: the gateway server (`pylon serve`) and the command line over its admin API.
//! The binary only parses the command line and wires the library crates together.

mod cli;
mod config;
mod lock;
mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "pylon", version, about = "A self-hosted API gateway")]
struct Args {
    #[command(flatten)]
    connection: cli::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway and the admin API on the embedded store.
    Serve(config::ServeArgs),
    #[command(flatten)]
    Admin(cli::AdminCommand),
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match args.command {
            Command::Serve(serve_args) => serve::run(serve_args).await,
            Command::Admin(command) => cli::run(args.connection, command).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
