//! `pylon`: the gateway server (`pylon serve`) and the command line over its admin API.
//! The binary only parses the command line and wires the library crates together.

mod allocations;
mod cli;
mod config;
mod lock;
mod serve;
mod status;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "pylon",
    version,
    about = "A self-hosted API gateway",
    after_help = "`pylon serve` runs the gateway; every other command talks to a running one \
                  through its admin API (see `pylon <command> --help` for --admin-url, \
                  --admin-token and -o)."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway and the admin API on the embedded store.
    Serve(config::ServeArgs),
    /// Print a shell completion script, e.g. `pylon completions bash > /etc/bash_completion.d/pylon`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    // The admin commands each carry the connection flags themselves (cli::Connection), so that
    // `pylon serve --help` does not list client-only flags.
    #[command(flatten)]
    Admin(cli::AdminCommand),
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let command = match args.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Args::command(), "pylon", &mut std::io::stdout());
            return std::process::ExitCode::SUCCESS;
        }
        other => other,
    };
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
        match command {
            Command::Serve(serve_args) => serve::run(serve_args).await,
            Command::Admin(command) => cli::run(command).await,
            Command::Completions { .. } => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument of every command, with the path of commands leading to it.
    fn all_args(command: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
        for arg in command.get_arguments() {
            out.push((path.to_string(), arg.clone()));
        }
        for sub in command.get_subcommands() {
            all_args(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_argument_is_described() {
        let mut args = Vec::new();
        all_args(&Args::command(), "pylon", &mut args);
        let undescribed: Vec<String> = args
            .iter()
            .filter(|(_, a)| a.get_help().is_none() && a.get_long_help().is_none())
            .filter(|(_, a)| !matches!(a.get_id().as_str(), "help" | "version"))
            .map(|(path, a)| format!("{path}: {}", a.get_id()))
            .collect();
        assert!(undescribed.is_empty(), "{undescribed:#?}");
    }

    #[test]
    fn every_command_is_described() {
        fn walk(command: &clap::Command, path: &str, out: &mut Vec<String>) {
            for sub in command.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    out.push(path.clone());
                }
                walk(sub, &path, out);
            }
        }
        let mut undescribed = Vec::new();
        walk(&Args::command(), "pylon", &mut undescribed);
        assert!(undescribed.is_empty(), "{undescribed:#?}");
    }

    #[test]
    fn serve_lists_no_client_flags() {
        let command = Args::command();
        let serve = command.find_subcommand("serve").expect("a serve command");
        for arg in serve.get_arguments() {
            assert!(
                !matches!(arg.get_id().as_str(), "admin_url" | "output" | "token"),
                "serve lists {}",
                arg.get_id()
            );
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }
}
